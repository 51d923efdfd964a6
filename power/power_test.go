package power_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// delayArgs is the wire form of the methods' argument.
type delayArgs struct {
	Delay string `json:"delay,omitempty"`
}

// newService serves a Service whose hook and action report to events.
func newService(t *testing.T, events chan string, delay time.Duration) (*power.Service, *rpc.Client) {
	t.Helper()
	svc, err := power.NewService(power.Options{
		Delay: delay,
		Before: func(_ context.Context, op power.Op) error {
			events <- "before " + string(op)
			return errors.New("hook says no")
		},
		Act: func(op power.Op) error { events <- "act " + string(op); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	return svc, testutil.Pair(t, srv)
}

func TestPowerOps(t *testing.T) {
	tests := []struct {
		method string
		args   any
		want   []string // events, in order
		code   rpc.Code
	}{
		{method: "power.halt", want: []string{"before halt", "act halt"}},
		{method: "power.reboot", args: delayArgs{Delay: "1ms"}, want: []string{"before reboot", "act reboot"}},
		{method: "power.halt", args: delayArgs{Delay: "soon"}, code: rpc.InvalidArgument},
		{method: "power.halt", args: delayArgs{Delay: "-1s"}, code: rpc.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			events := make(chan string, 8)
			_, c := newService(t, events, 1)
			err := c.Call(context.Background(), tt.method, tt.args, nil)
			if got := rpc.CodeOf(err); got != tt.code {
				t.Fatalf("%s: code %v (%v), want %v", tt.method, got, err, tt.code)
			}
			var got []string
			for range tt.want {
				got = append(got, <-events)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tt.code == rpc.OK {
				return
			}
			// A refused request must not act. A timer it set anyway (with
			// its own delay or the 1ns default) would fire before that of
			// this later reboot, whose own events must be all there is.
			if err := c.Call(context.Background(), "power.reboot", delayArgs{Delay: "0s"}, nil); err != nil {
				t.Fatal(err)
			}
			got = []string{<-events, <-events}
			for len(events) > 0 {
				got = append(got, <-events)
			}
			if diff := cmp.Diff([]string{"before reboot", "act reboot"}, got); diff != "" {
				t.Errorf("after a refused %s, a reboot saw events (-want +got):\n%s", tt.method, diff)
			}
		})
	}
}

// TestClient drives each Client method against a Service with fake
// actions: what the guest does, and what the host hears.
func TestClient(t *testing.T) {
	suspend, suspendCode := []string{"before suspend", "act suspend"}, rpc.OK
	if !power.Supported(power.Suspend) {
		suspend, suspendCode = nil, rpc.Unimplemented
	}
	tests := []struct {
		name  string
		call  func(*power.Client, context.Context, time.Duration) error
		delay time.Duration
		want  []string
		code  rpc.Code
	}{
		{name: "halt", call: (*power.Client).Halt, want: []string{"before halt", "act halt"}},
		{name: "reboot 1ms", call: (*power.Client).Reboot, delay: time.Millisecond, want: []string{"before reboot", "act reboot"}},
		{name: "suspend", call: (*power.Client).Suspend, want: suspend, code: suspendCode},
		{name: "halt negative", call: (*power.Client).Halt, delay: -time.Second, code: rpc.InvalidArgument},
		{name: "reboot over an hour", call: (*power.Client).Reboot, delay: time.Hour + 1, code: rpc.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make(chan string, 8)
			svc, c := newService(t, events, 1)
			err := tt.call(power.NewClient(c), context.Background(), tt.delay)
			if got := rpc.CodeOf(err); got != tt.code {
				t.Fatalf("code %v (%v), want %v", got, err, tt.code)
			}
			var got []string
			for range tt.want {
				got = append(got, <-events)
			}
			svc.Close() // waits for any action: none may follow
			for len(events) > 0 {
				got = append(got, <-events)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClose: Close ends a running hook's context, waits for the action,
// and refuses later requests.
func TestClose(t *testing.T) {
	started, acted := make(chan struct{}), make(chan power.Op, 1)
	svc, err := power.NewService(power.Options{
		Delay: 1,
		Before: func(ctx context.Context, op power.Op) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		},
		Act: func(op power.Op) error { acted <- op; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	pc := power.NewClient(testutil.Pair(t, srv))
	ctx := context.Background()
	if err := pc.Halt(ctx, 0); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case op := <-acted:
		if op != power.Halt {
			t.Errorf("acted %q, want halt", op)
		}
	default:
		t.Error("Close returned before the running operation did")
	}
	if err := pc.Reboot(ctx, 0); rpc.CodeOf(err) != rpc.Unavailable {
		t.Errorf("reboot after Close: %v, want Unavailable", err)
	}
}

func TestUnsupported(t *testing.T) {
	err := power.Default(power.Op("hibernate"))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Default(hibernate) = %v, want an error wrapping errors.ErrUnsupported", err)
	}
	if _, err := power.NewService(power.Options{Delay: -1}); err == nil {
		t.Error("NewService with a negative delay: no error")
	}
}
