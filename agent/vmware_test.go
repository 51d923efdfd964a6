package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/power"
)

// TestListenVMware: the agent serves the VMX's TCLO loop beside its
// other transports: the toolbox answers, the native methods stay out of
// the VMX's reach, and broadcastIP 1 reports the address and the NIC
// information nicinfo collects.
func TestListenVMware(t *testing.T) {
	acted := make(chan power.Op, 1)
	a, err := agent.New(agent.Config{Files: files.Options{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	vmx := &fakevmx.VMX{TB: t, HighBandwidth: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vm, err := a.ListenVMware(ctx, agent.VMwareOptions{Port: vmx, GuestInfoInterval: -1,
		Power: power.Options{Delay: time.Millisecond, Act: func(op power.Op) error { acted <- op; return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, vm.Listener) }()
	defer func() {
		stop()
		<-done
		vm.Close()
	}()
	for _, tt := range []struct{ cmd, want string }{
		{"reset", "OK ATR toolbox"},
		{"ping", "OK "},
		{"Capabilities_Register", "OK "},
		{"sys.info", "ERROR Unknown Command"},
		{"power.halt", "ERROR Unknown Command"},
		{"Set_Option broadcastIP 1", "OK "},
		{"OS_Reboot", "OK "},
	} {
		got, err := vmx.Command(ctx, tt.cmd)
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.cmd, got, err, tt.want)
		}
	}
	if op := <-acted; op != power.Reboot {
		t.Errorf("acted %q", op)
	}
	var kinds []string
	for _, r := range vmx.Requests() {
		switch {
		case strings.HasPrefix(r, "info-set guestinfo.vmtools.description guestrpc "):
			kinds = append(kinds, "description")
		case strings.HasPrefix(r, "info-set guestinfo.ip "):
			kinds = append(kinds, "ip")
		case strings.HasPrefix(r, "SetGuestInfo  10 \x00\x00\x00\x03"):
			kinds = append(kinds, "nicinfo v3")
		}
	}
	if diff := cmp.Diff([]string{"description", "ip", "nicinfo v3"}, kinds); diff != "" {
		t.Errorf("RPCI requests (-want +got):\n%s\nall: %q", diff, vmx.Requests())
	}
	// The toolbox methods are the dispatcher's, for every transport.
	var m []string
	for _, name := range a.Methods() {
		if strings.HasPrefix(name, "toolbox.") {
			m = append(m, name)
		}
	}
	if len(m) != 10 { // with Vix_1_Relayed_Command
		t.Errorf("toolbox methods %v", m)
	}
}

// TestListenVMwareGuestInfoPoll: without a broadcastIP from the VMX, the
// agent sends the guest's NIC information and DNS name on its own, as
// OVT's guestInfo poll does, and stops when closed.
func TestListenVMwareGuestInfoPoll(t *testing.T) {
	a, err := agent.New(agent.Config{Files: files.Options{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	vmx := &fakevmx.VMX{TB: t, HighBandwidth: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vm, err := a.ListenVMware(ctx, agent.VMwareOptions{Port: vmx, GuestInfoInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var sawNic, sawName bool
	for n := 1; !sawNic || !sawName; n++ {
		reqs, err := vmx.WaitRequests(ctx, n)
		if err != nil {
			t.Fatalf("%v; requests so far %q", err, reqs)
		}
		for _, r := range reqs {
			sawNic = sawNic || strings.HasPrefix(r, "SetGuestInfo  10 ")
			sawName = sawName || strings.HasPrefix(r, "SetGuestInfo  1 ")
		}
	}
	if err := vm.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// QEMU's vmport answers GETVERSION only: a clean refusal.
func TestListenVMwareWithoutMessages(t *testing.T) {
	a, err := agent.New(agent.Config{Files: files.Options{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.ListenVMware(context.Background(), agent.VMwareOptions{Port: &fakevmx.VMX{NoMessages: true}})
	if !errors.Is(err, agent.ErrNoVMware) {
		t.Fatalf("ListenVMware on vmport: %v, want ErrNoVMware", err)
	}
	if m := a.Methods(); strings.Contains(strings.Join(m, ","), "toolbox.") {
		t.Errorf("toolbox registered after a refusal: %v", m)
	}
}
