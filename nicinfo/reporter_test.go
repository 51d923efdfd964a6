package nicinfo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeVMX records every RPCI message and answers by its prefix.
type fakeVMX struct {
	log    []string
	refuse []string          // prefixes answered "0 ..."
	reply  map[string]string // prefixes answered "1 <reply>"
}

func (f *fakeVMX) send(_ context.Context, msg []byte) ([]byte, error) {
	s := string(msg)
	name := s // logged up to the key: "SetGuestInfo  10 "
	if strings.HasPrefix(s, "SetGuestInfo  ") {
		if i := strings.IndexByte(s[14:], ' '); i >= 0 {
			name = s[:14+i+1]
		}
	}
	f.log = append(f.log, name)
	for _, p := range f.refuse {
		if strings.HasPrefix(s, p) {
			return nil, errors.New("Unknown command")
		}
	}
	for p, r := range f.reply {
		if strings.HasPrefix(s, p) {
			return []byte(r), nil
		}
	}
	return nil, nil
}

func TestReporterSendsChangesOnly(t *testing.T) {
	ctx := context.Background()
	vmx := &fakeVMX{}
	r := NewReporter()
	one, _ := goldenOne()
	two, _ := goldenTwo()
	steps := []struct {
		name          string
		v             *NicInfoV3
		force         bool
		changed, sent bool
	}{
		{"first", one, false, true, true},
		{"unchanged", one, false, false, false},
		{"changed", two, false, true, true},
		{"forced (broadcastIP)", two, true, false, true},
		{"back", one, false, true, true},
	}
	for _, s := range steps {
		changed, err := r.Changed(s.v)
		if err != nil {
			t.Fatal(err)
		}
		sent, err := r.SendNicInfo(ctx, vmx.send, s.v, s.force)
		if err != nil || sent != s.sent || changed != s.changed {
			t.Fatalf("%s: changed %v, sent %v, %v; want %v, %v", s.name, changed, sent, err, s.changed, s.sent)
		}
	}
	want := []string{"SetGuestInfo  10 ", "SetGuestInfo  10 ", "SetGuestInfo  10 ", "SetGuestInfo  10 "}
	if diff := cmp.Diff(want, vmx.log); diff != "" {
		t.Errorf("RPCI log (-want +got):\n%s", diff)
	}
	r.Reset()
	if sent, _ := r.SendNicInfo(ctx, vmx.send, one, false); !sent {
		t.Error("after Reset the same NIC info was not sent again")
	}
}

func TestReporterFallbacks(t *testing.T) {
	ctx := context.Background()
	one, _ := goldenOne()
	two, _ := goldenTwo()
	tests := []struct {
		name       string
		refuse     []string
		want       []string
		method     Method
		thenRefuse []string // refusals for a second, changed send
		then       []string
		thenMethod Method
	}{
		{
			name: "an old VMX without IPADDRESS_V3", refuse: []string{"SetGuestInfo  10 "},
			want:   []string{"SetGuestInfo  10 ", "SetGuestInfo  9 "},
			method: MethodV3AsV2,
			// The method that worked is tried first next time.
			then: []string{"SetGuestInfo  9 "}, thenMethod: MethodV3AsV2,
		},
		{
			name: "only V1", refuse: []string{"SetGuestInfo  10 ", "SetGuestInfo  9 "},
			want:   []string{"SetGuestInfo  10 ", "SetGuestInfo  9 ", "SetGuestInfo  9 ", "SetGuestInfo  2 "},
			method: MethodV1,
			// When all fail, the next round starts again from V3.
			thenRefuse: []string{"SetGuestInfo  "},
			then:       []string{"SetGuestInfo  2 "}, thenMethod: MethodV3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vmx := &fakeVMX{refuse: tt.refuse}
			r := NewReporter()
			if sent, err := r.SendNicInfo(ctx, vmx.send, one, false); !sent || err != nil {
				t.Fatalf("sent %v, %v", sent, err)
			}
			if diff := cmp.Diff(tt.want, vmx.log); diff != "" || r.Method() != tt.method {
				t.Fatalf("method %v, want %v; RPCI log (-want +got):\n%s", r.Method(), tt.method, diff)
			}
			vmx.log, vmx.refuse = nil, tt.thenRefuse
			sent, err := r.SendNicInfo(ctx, vmx.send, two, false)
			if (err == nil) != (tt.thenRefuse == nil) || sent != (err == nil) {
				t.Fatalf("second send: sent %v, %v", sent, err)
			}
			if diff := cmp.Diff(tt.then, vmx.log); diff != "" || r.Method() != tt.thenMethod {
				t.Fatalf("second send: method %v, want %v; RPCI log (-want +got):\n%s", r.Method(), tt.thenMethod, diff)
			}
		})
	}
}

func TestReporterSetValue(t *testing.T) {
	ctx := context.Background()
	vmx := &fakeVMX{reply: map[string]string{"SetGuestInfo  6 ": "not updated"}}
	r := NewReporter()
	steps := []struct {
		key   Key
		value string
		sent  bool
		err   error
	}{
		{KeyDNSName, "guest", true, nil},
		{KeyDNSName, "guest", false, nil},
		{KeyDNSName, "renamed", true, nil},
		{KeyOSName, "debian12-64", false, ErrRefused},
		{KeyOSName, "debian12-64", false, ErrRefused}, // a refusal is not remembered
	}
	for i, s := range steps {
		sent, err := r.SetValue(ctx, vmx.send, s.key, s.value)
		if sent != s.sent || !errors.Is(err, s.err) {
			t.Fatalf("step %d: sent %v, %v; want %v, %v", i, sent, err, s.sent, s.err)
		}
	}
	want := []string{"SetGuestInfo  1 ", "SetGuestInfo  1 ", "SetGuestInfo  6 ", "SetGuestInfo  6 "}
	if diff := cmp.Diff(want, vmx.log); diff != "" {
		t.Errorf("RPCI log (-want +got):\n%s", diff)
	}
}

func TestReporterGather(t *testing.T) {
	ctx := context.Background()
	var msgs [][]byte
	send := func(_ context.Context, m []byte) ([]byte, error) { msgs = append(msgs, m); return nil, nil }
	r := NewReporter()
	g := Gather{Info: sample(), OSNameFull: "Debian GNU/Linux 12", OSName: "debian12-64",
		Uptime: func() (uint64, error) { return 4200, nil }}
	if err := r.Gather(ctx, send, g); err != nil {
		t.Fatal(err)
	}
	nic, err := NicInfoMessage(sample().V3(Select{}), MethodV3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		OSNameFullMessage("Debian GNU/Linux 12"), OSNameMessage("debian12-64"),
		DNSNameMessage("guest"), nic, UptimeMessage(4200),
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Fatalf("first gather (-want +got):\n%s", diff)
	}
	// Only the uptime changed.
	msgs = nil
	g.Uptime = func() (uint64, error) { return 4300, nil }
	if err := r.Gather(ctx, send, g); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{UptimeMessage(4300)}, msgs); diff != "" {
		t.Fatalf("second gather (-want +got):\n%s", diff)
	}
	if !bytes.HasPrefix(nic, []byte("SetGuestInfo  10 ")) {
		t.Fatalf("NIC message %q", nic[:20])
	}
}

// TestReporterPoll: each round sends only what changed, failures are
// reported without ending the loop, and cancellation ends it.
func TestReporterPoll(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var msgs [][]byte
	send := func(_ context.Context, m []byte) ([]byte, error) {
		msgs = append(msgs, m)
		if strings.HasPrefix(string(m), "SetGuestInfo  6 ") {
			return nil, errors.New("refused")
		}
		return nil, nil
	}
	round := 0
	gather := func() Gather {
		round++
		if round == 3 {
			cancel()
		}
		up := uint64(100 * round)
		return Gather{Info: sample(), OSName: "debian12-64", Uptime: func() (uint64, error) { return up, nil }}
	}
	var failures int
	err := NewReporter().Poll(ctx, send, time.Millisecond, gather, func(error) { failures++ })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll: %v, want context.Canceled", err)
	}
	nic, _ := NicInfoMessage(sample().V3(Select{}), MethodV3)
	os := OSNameMessage("debian12-64")
	want := [][]byte{
		os, DNSNameMessage("guest"), nic, UptimeMessage(100),
		os, UptimeMessage(200), // the refused OS name is tried again; the rest did not change
		os, UptimeMessage(300),
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("RPCI log (-want +got):\n%s", diff)
	}
	if failures != 2 {
		t.Errorf("%d failures reported, want 2 (the third round was canceled)", failures)
	}
}
