package rpc_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestStreamWaitEndsOnLocalChange: a goroutine waiting on a stream reads
// the connection itself while nobody else does. When this side ends what
// it waits for (Close, CloseWrite) no frame may come to end that read,
// and the wait must still end at once.
func TestStreamWaitEndsOnLocalChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wait   func(s *rpc.Stream) error // blocks reading the connection
		change func(s *rpc.Stream)       // from another goroutine
		want   error                     // nil: any error
	}{
		{
			name:   "Close ends a Read",
			wait:   func(s *rpc.Stream) error { _, err := s.Read(make([]byte, 10)); return err },
			change: func(s *rpc.Stream) { s.Close() },
			want:   rpc.ErrCanceled,
		},
		{
			name:   "Close ends a Wait",
			wait:   func(s *rpc.Stream) error { return s.Wait(nil) },
			change: func(s *rpc.Stream) { s.Close() },
			want:   rpc.ErrCanceled,
		},
		{
			name:   "CloseWithError ends a lane Read",
			wait:   func(s *rpc.Stream) error { _, err := s.LaneReader(1).Read(make([]byte, 10)); return err },
			change: func(s *rpc.Stream) { s.CloseWithError(io.ErrClosedPipe) },
			want:   io.ErrClosedPipe,
		},
		{
			name: "CloseWrite ends a Write waiting for window",
			wait: func(s *rpc.Stream) error {
				_, err := s.Write(make([]byte, 64<<10)) // four times the window
				return err
			},
			change: func(s *rpc.Stream) { _ = s.CloseWrite() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{Window: 16 << 10})
			srv.HandleFunc("hold", func(ctx context.Context, call *rpc.Request) (any, error) {
				<-ctx.Done() // sends nothing and reads nothing
				return nil, ctx.Err()
			})
			c := testutil.Pair(t, srv)
			s, err := c.Open(testCtx(t), "hold", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			waitErr := make(chan error, 1)
			go func() { waitErr <- tc.wait(s) }()
			waitFor(t, "the waiting goroutine to read the connection", func() bool { return rpc.CallerReads(c) })
			tc.change(s)
			err = recv(t, "the wait to end", waitErr)
			switch {
			case err == nil:
				t.Fatal("the wait ended without an error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("the wait ended with %v, want %v", err, tc.want)
			}
			if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
				t.Fatalf("the connection after the interrupted read: %v", err)
			}
		})
	}
}
