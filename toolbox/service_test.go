package toolbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/toolbox"
)

// TestSession: what a VMX does with a freshly started guest — reset,
// Capabilities_Register, Set_Option broadcastIP 1, then OS_Halt — with
// the whole RPCI log compared, in low and high bandwidth.
func TestSession(t *testing.T) {
	for _, hb := range []bool{false, true} {
		h := newHarness(t, hb, nil, nil)
		var replies []string
		for _, c := range []string{"reset", "Capabilities_Register"} {
			replies = append(replies, h.command(t, c))
		}
		h.requests(t, 6) // reset's requests follow its reply
		for _, c := range []string{"Set_Option broadcastIP 1", "OS_Halt"} {
			replies = append(replies, h.command(t, c))
		}
		if op := <-h.acts; op != power.Halt {
			t.Errorf("power action %q, want halt", op)
		}
		if diff := cmp.Diff([]string{"OK ATR toolbox", "OK ", "OK ", "OK "}, replies); diff != "" {
			t.Errorf("highbw=%v: replies (-want +got):\n%s", hb, diff)
		}
		got := h.vmx.Requests()
		want := []string{
			"vmx.capability.unified_loop toolbox\x00",
			"log toolbox: Version: 1.0.0.0\x00",
			"tools.capability.statechange ",
			"tools.capability.softpowerop_retry ",
			"tools.capability.hgfs_server toolbox 1\x00",
			"tools.set.versiontype 2147483647 4\x00",
			"info-set guestinfo.ip 192.0.2.10\x00",
			"tools.os.statechange.status 1 1\x00",
			"log Initiating halt.\x00",
		}
		// reset's two requests run beside Capabilities_Register's; each
		// group keeps its order.
		if diff := cmp.Diff(want, append(filter(got, want[:2]), filter(got, want[2:])...)); diff != "" || len(got) != len(want) {
			t.Errorf("highbw=%v: RPCI log (-want +got):\n%s\nfull log %q", hb, diff, got)
		}
	}
}

// filter keeps the entries of log that are in set, in log's order.
func filter(log, set []string) []string {
	var out []string
	for _, l := range log {
		for _, s := range set {
			if l == s {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func TestNewServiceNeedsRPCI(t *testing.T) {
	if _, err := toolbox.NewService(toolbox.Options{}); !errors.Is(err, toolbox.ErrNoRPCI) {
		t.Fatalf("NewService without RPCI: %v", err)
	}
}

// Close cancels a power action still waiting for its delay.
func TestCloseCancelsPowerAction(t *testing.T) {
	acted := make(chan power.Op, 1)
	svc, err := toolbox.NewService(toolbox.Options{RPCI: nopRPCI{}, Power: power.Options{Delay: 1 << 40, Act: func(op power.Op) error { acted <- op; return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toolbox.CallForTest(svc, "OS_Halt", nil); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	select {
	case op := <-acted:
		t.Fatalf("acted %q after Close", op)
	default:
	}
}

type nopRPCI struct{}

func (nopRPCI) Call(context.Context, []byte) ([]byte, error) { return nil, nil }

var _ toolbox.RPCI = (*backdoor.RPCI)(nil)
