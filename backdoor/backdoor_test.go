package backdoor_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
)

func TestRPCIRoundTrip(t *testing.T) {
	for _, hb := range []bool{false, true} {
		for size := 0; size <= 9; size++ {
			t.Run(fmt.Sprintf("highbw=%v/size=%d", hb, size), func(t *testing.T) {
				vmx := &fakevmx.VMX{HighBandwidth: hb, RPCI: func(req []byte) []byte {
					return append([]byte("1 "), bytes.ToUpper(req)...)
				}}
				ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoRPCI)
				if err != nil {
					t.Fatal(err)
				}
				req := []byte("abcdefghi"[:size])
				if err := ch.Send(req); err != nil {
					t.Fatal(err)
				}
				got, ok, err := ch.Receive()
				if err != nil || !ok {
					t.Fatalf("Receive: ok=%v err=%v", ok, err)
				}
				want := append([]byte("1 "), bytes.ToUpper(req)...)
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{string(req)}, vmx.Requests()); diff != "" {
					t.Errorf("VMX saw (-want +got):\n%s", diff)
				}
				if err := ch.Close(); err != nil {
					t.Fatal(err)
				}
				if err := ch.Send([]byte("x")); !errors.Is(err, backdoor.ErrChannel) {
					t.Errorf("Send after Close: %v, want ErrChannel", err)
				}
			})
		}
	}
}

func TestTCLOPoll(t *testing.T) {
	vmx := &fakevmx.VMX{}
	ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoTCLO)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ch.Receive(); ok || err != nil {
		t.Fatalf("empty queue: ok=%v err=%v, want nothing", ok, err)
	}
	vmx.QueueTCLO("ping")
	vmx.QueueTCLO("Capabilities_Register")
	var got []string
	for range 2 {
		if err := ch.Send(nil); err != nil { // poll
			t.Fatal(err)
		}
		msg, ok, err := ch.Receive()
		if err != nil || !ok {
			t.Fatalf("Receive: ok=%v err=%v", ok, err)
		}
		got = append(got, string(msg))
		if err := ch.Send([]byte("OK ")); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"ping", "Capabilities_Register"}, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"OK ", "OK "}, vmx.Replies()); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
}

// QEMU's vmport answers GETVERSION but not the message command.
func TestOpenChannelRefused(t *testing.T) {
	vmx := &fakevmx.VMX{NoMessages: true}
	_, err := backdoor.OpenChannel(vmx, backdoor.ProtoRPCI)
	if !errors.Is(err, backdoor.ErrChannel) {
		t.Fatalf("OpenChannel on a VMX without messages: %v, want ErrChannel", err)
	}
	ver, _, ok := backdoor.GetVersion(vmx)
	if !ok || ver != 6 {
		t.Errorf("GetVersion = %d, %v; want 6, true", ver, ok)
	}
}

func TestSendTooLarge(t *testing.T) {
	ch, err := backdoor.OpenChannel(&fakevmx.VMX{}, backdoor.ProtoRPCI)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(make([]byte, backdoor.MaxMessage+1)); !errors.Is(err, backdoor.ErrTooLarge) {
		t.Errorf("Send of MaxMessage+1 bytes: %v, want ErrTooLarge", err)
	}
}

// hostile answers every call with registers from the fuzzer.
type hostile struct {
	regs []backdoor.Regs
	i    int
}

func (h *hostile) next(r *backdoor.Regs) {
	if len(h.regs) == 0 {
		*r = backdoor.Regs{}
		return
	}
	*r = h.regs[h.i%len(h.regs)]
	h.i++
}
func (h *hostile) InOut(r *backdoor.Regs)                      { h.next(r) }
func (h *hostile) HighBandwidthOut(r *backdoor.Regs, _ []byte) { h.next(r) }
func (h *hostile) HighBandwidthIn(r *backdoor.Regs, _ []byte)  { h.next(r) }
func (h *hostile) Close() error                                { return nil }

// FuzzReceive drives the guest side with arbitrary VMX answers: it must
// never panic, loop forever or allocate past MaxMessage.
func FuzzReceive(f *testing.F) {
	f.Add(uint64(0x00010000), uint64(5), uint64(0x00030000), uint64(0x00010000<<0))
	f.Add(uint64(0x00830000), uint64(0xffffffff), uint64(0x00010000), uint64(0))
	f.Add(uint64(0x00130000), uint64(3), uint64(0x00100000), uint64(0x00020000))
	f.Fuzz(func(t *testing.T, cx1, bx1, cx2, dx2 uint64) {
		h := &hostile{regs: []backdoor.Regs{
			{CX: 0x00010000, DX: 7 << 16}, // open succeeds
			{CX: cx1, BX: bx1, DX: 1 << 16},
			{CX: cx2, BX: bx1, DX: dx2},
		}}
		ch, err := backdoor.OpenChannel(h, backdoor.ProtoTCLO)
		if err != nil {
			return
		}
		msg, _, err := ch.Receive()
		if err == nil && len(msg) > backdoor.MaxMessage {
			t.Fatalf("received %d bytes, over MaxMessage", len(msg))
		}
	})
}
