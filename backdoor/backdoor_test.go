package backdoor_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
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

// rpci sends req on a fresh RPCI channel of vmx and returns the reply.
func rpci(t *testing.T, vmx *fakevmx.VMX, req string) (string, error) {
	t.Helper()
	ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoRPCI)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Send([]byte(req)); err != nil {
		return "", err
	}
	reply, ok, err := ch.Receive()
	if err == nil && !ok {
		t.Fatal("no RPCI reply waiting")
	}
	return string(reply), err
}

// A checkpoint in the middle of any step of a message starts the message
// over (message.c), and the VMX sees it exactly once.
func TestCheckpointRetried(t *testing.T) {
	tests := []struct {
		name  string
		hb    bool
		fault fakevmx.Fault
	}{
		{"low-bandwidth send payload", false, fakevmx.Fault{Op: fakevmx.OpSendPayload, Skip: 1, Status: fakevmx.StatusCheckpoint}},
		{"low-bandwidth send first payload", false, fakevmx.Fault{Op: fakevmx.OpSendPayload, Status: fakevmx.StatusCheckpoint}},
		{"high-bandwidth send", true, fakevmx.Fault{Op: fakevmx.OpHBOut, Status: fakevmx.StatusCheckpoint}},
		{"low-bandwidth receive payload", false, fakevmx.Fault{Op: fakevmx.OpRecvPayload, Skip: 2, Status: fakevmx.StatusCheckpoint}},
		{"high-bandwidth receive", true, fakevmx.Fault{Op: fakevmx.OpHBIn, Status: fakevmx.StatusCheckpoint}},
		{"receive status checkpoint", false, fakevmx.Fault{Op: fakevmx.OpRecvStatus, Status: fakevmx.StatusCheckpoint}},
		{"receive status failed", true, fakevmx.Fault{Op: fakevmx.OpRecvStatus, Status: fakevmx.StatusFail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t, HighBandwidth: tt.hb, RPCI: func(req []byte) []byte {
				return append([]byte("1 "), bytes.ToUpper(req)...)
			}}
			vmx.Inject(tt.fault)
			got, err := rpci(t, vmx, "info-set guestinfo.ip 192.0.2.1\x00")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("1 INFO-SET GUESTINFO.IP 192.0.2.1\x00", got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"info-set guestinfo.ip 192.0.2.1\x00"}, vmx.Requests()); diff != "" {
				t.Errorf("VMX saw (-want +got):\n%s", diff)
			}
		})
	}
}

// A TCLO command whose RECVSTATUS the VMX did not acknowledge is still
// the VMX's: the guest must receive it again, not run it and then receive
// it a second time.
func TestTCLOStatusNotAcknowledged(t *testing.T) {
	vmx := &fakevmx.VMX{TB: t}
	ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoTCLO)
	if err != nil {
		t.Fatal(err)
	}
	vmx.Inject(fakevmx.Fault{Op: fakevmx.OpRecvStatus, Status: fakevmx.StatusFail})
	vmx.QueueTCLO("OS_Halt")
	var got []string
	for range 3 {
		msg, ok, err := ch.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, string(msg))
			if err := ch.Send([]byte("OK ")); err != nil {
				t.Fatal(err)
			}
		} else if err := ch.Send(nil); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"OS_Halt"}, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"OK "}, vmx.Replies()); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
}

// The retry cap: MaxRetries-1 checkpoints in a row are survived, the
// MaxRetries-th fails the call with ErrChannel instead of looping.
func TestCheckpointCap(t *testing.T) {
	for _, n := range []int{backdoor.MaxRetries - 1, backdoor.MaxRetries} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t}
			for range n {
				vmx.Inject(fakevmx.Fault{Op: fakevmx.OpSendPayload, Status: fakevmx.StatusCheckpoint})
			}
			_, err := rpci(t, vmx, "ping")
			if n < backdoor.MaxRetries && err != nil {
				t.Fatalf("%d checkpoints: %v", n, err)
			}
			if n >= backdoor.MaxRetries && !errors.Is(err, backdoor.ErrChannel) {
				t.Fatalf("%d checkpoints: %v, want ErrChannel", n, err)
			}
		})
	}
}

// A message over MaxMessage is refused with RECVPAYLOAD(0), as message.c
// refuses one while bytes of it remain; the strict VMX counts a refusal.
func TestReceiveTooLargeRefused(t *testing.T) {
	for _, hb := range []bool{false, true} {
		t.Run(fmt.Sprintf("highbw=%v", hb), func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t, HighBandwidth: hb}
			ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoTCLO)
			if err != nil {
				t.Fatal(err)
			}
			vmx.QueueTCLO(strings.Repeat("x", backdoor.MaxMessage+1))
			if _, _, err := ch.Receive(); !errors.Is(err, backdoor.ErrTooLarge) {
				t.Fatalf("Receive: %v, want ErrTooLarge", err)
			}
			if got := vmx.Rejected(); got != 1 {
				t.Errorf("VMX counted %d refused messages, want 1", got)
			}
			vmx.QueueTCLO("ping")
			if msg, ok, err := ch.Receive(); err != nil || !ok || string(msg) != "ping" {
				t.Errorf("next Receive = %q, %v, %v; want ping", msg, ok, err)
			}
		})
	}
}

// An old VMX leaves ECX alone; vmcheck.c's 0xFFFF pattern then reads as
// an unset product type, not as the command number.
func TestGetVersionOldVMX(t *testing.T) {
	for _, tt := range []struct {
		leave bool
		want  uint32
	}{{false, 2}, {true, backdoor.ProductUnset}} {
		ver, product, ok := backdoor.GetVersion(&fakevmx.VMX{TB: t, LeaveECX: tt.leave})
		if !ok || ver != 6 || product != tt.want {
			t.Errorf("LeaveECX=%v: GetVersion = %d, %d, %v; want 6, %d, true", tt.leave, ver, product, ok, tt.want)
		}
	}
}

// Port operations per short message: with high bandwidth offered a
// request and its reply take SENDSIZE, OUTSB, RECVSIZE, INSB, RECVSTATUS.
func TestPortOpsPerMessage(t *testing.T) {
	for _, tt := range []struct {
		hb   bool
		want int
	}{{true, 5}, {false, 1 + 8 + 1 + 10 + 1}} {
		vmx := &fakevmx.VMX{TB: t, HighBandwidth: tt.hb, RPCI: func([]byte) []byte { return []byte("1 0123456789abcdefghijklmnopqrstuvwxyz") }}
		ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoRPCI)
		if err != nil {
			t.Fatal(err)
		}
		before := vmx.Ops()
		if err := ch.Send([]byte("tools.capability.statechange ")); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := ch.Receive(); !ok || err != nil {
			t.Fatalf("Receive: %v %v", ok, err)
		}
		if got := vmx.Ops() - before; got != tt.want {
			t.Errorf("highbw=%v: %d port operations for a 30-byte request and a 38-byte reply, want %d", tt.hb, got, tt.want)
		}
	}
}
