package power_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPowerOps(t *testing.T) {
	tests := []struct {
		method string
		args   any
		want   []string // events, in order
		code   rpc.Code
	}{
		{method: "power.halt", want: []string{"before halt", "act halt"}},
		{method: "power.reboot", args: power.Request{Delay: "1ms"}, want: []string{"before reboot", "act reboot"}},
		{method: "power.halt", args: power.Request{Delay: "soon"}, code: rpc.InvalidArgument},
		{method: "power.halt", args: power.Request{Delay: "-1s"}, code: rpc.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			events := make(chan string, 8)
			srv := rpc.NewServer(rpc.ServerOptions{})
			power.Register(srv, power.Options{
				Delay: 1,
				Before: func(_ context.Context, op power.Op) error {
					events <- "before " + string(op)
					return errors.New("hook says no")
				},
				Act: func(op power.Op) error { events <- "act " + string(op); return nil },
			})
			c := testutil.Pair(t, srv)
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
			if err := c.Call(context.Background(), "power.reboot", power.Request{Delay: "0s"}, nil); err != nil {
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
