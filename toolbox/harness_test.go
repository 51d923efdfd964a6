package toolbox_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a toolbox served over TCLO to a strict fake VMX, with RPCI
// over the same backdoor.
type harness struct {
	vmx  *fakevmx.VMX
	svc  *toolbox.Service
	acts chan power.Op // power actions taken
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newHarness starts the toolbox; rpciReply, when set, answers the RPCI
// requests; mod adjusts the options.
func newHarness(t *testing.T, hb bool, rpciReply func(req []byte) []byte, mod func(*toolbox.Options)) *harness {
	t.Helper()
	h := &harness{vmx: &fakevmx.VMX{TB: t, HighBandwidth: hb, RPCI: rpciReply}, acts: make(chan power.Op, 4)}
	rpci := backdoor.NewRPCI(h.vmx, false)
	opts := toolbox.Options{
		RPCI:      rpci,
		PrimaryIP: func(context.Context) (string, error) { return "192.0.2.10", nil },
		Power: power.Options{Delay: time.Millisecond, Act: func(op power.Op) error {
			h.acts <- op
			return nil
		}},
	}
	if mod != nil {
		mod(&opts)
	}
	svc, err := toolbox.NewService(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	l := backdoor.ListenTCLO(h.vmx, backdoor.TCLOOptions{RPCI: rpci, PollUnit: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, rpc.WithPolicy(l, toolbox.Policy())) }()
	t.Cleanup(func() {
		cancel()
		<-done
		svc.Close()
		rpci.Close()
	})
	return h
}

func (h *harness) command(t *testing.T, cmd string) string {
	t.Helper()
	reply, err := h.vmx.Command(testCtx(t), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// requests waits for n RPCI requests and returns them.
func (h *harness) requests(t *testing.T, n int) []string {
	t.Helper()
	got, err := h.vmx.WaitRequests(testCtx(t), n)
	if err != nil {
		t.Fatalf("%v; got %q", err, got)
	}
	return got
}
