package process_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestStartedEventUndeliverable checks that a program and a registered
// func treat a "started" event that cannot be written alike: the handler
// fails with the write's error instead of running on unseen.
func TestStartedEventUndeliverable(t *testing.T) {
	m, err := process.NewService(process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	m.RegisterFunc("ok", func(context.Context, *process.FuncProcess) (int, error) { return 0, nil })
	srv := rpc.NewServer(rpc.ServerOptions{})
	handled := make(chan error, 1)
	srv.Use(func(h rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
			if call.Method != "process.start" {
				return h.ServeRPC(ctx, call)
			}
			_ = call.CloseWrite() // every write of the handler now fails
			res, err := h.ServeRPC(ctx, call)
			handled <- err
			return res, err
		})
	})
	m.Register(srv)
	c := process.NewClient(testutil.Pair(t, srv))
	for _, tc := range []struct {
		name string
		spec process.Spec
	}{
		{"program", process.Spec{Path: "true"}},
		{"func", process.Spec{Path: "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := c.Start(testCtx(t), tc.spec, nil, nil, nil); err == nil {
				_, _ = p.Wait()
			}
			got := <-handled != nil
			if diff := cmp.Diff(true, got); diff != "" {
				t.Errorf("handler failed (-want +got):\n%s", diff)
			}
		})
	}
}
