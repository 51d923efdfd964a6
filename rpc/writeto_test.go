package rpc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

type failAfter struct {
	n   int
	got bytes.Buffer
}

var errSink = errors.New("sink full")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.got.Len()+len(p) > f.n {
		return 0, errSink
	}
	return f.got.Write(p)
}

func TestWriteTo(t *testing.T) {
	payload := make([]byte, 3<<20+17)
	rand.Read(payload)
	srv := rpc.NewServer(rpc.ServerOptions{})
	// echo copies the request into the response with Call.WriteTo.
	srv.HandleFunc("echo", func(ctx context.Context, call *rpc.Request) (any, error) {
		n, err := call.WriteTo(call)
		return n, err
	})
	c := testutil.Pair(t, srv)
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		sink    io.Writer
		wantErr error
	}{
		{"everything arrives", &bytes.Buffer{}, nil},
		{"the writer's error stops it", &failAfter{n: 1 << 20}, errSink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := c.Open(ctx, "echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			go func() {
				s.Write(payload)
				s.CloseWrite()
			}()
			n, err := s.WriteTo(tc.sink)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteTo: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			var echoed int64
			if err := s.Wait(&echoed); err != nil {
				t.Fatal(err)
			}
			got := tc.sink.(*bytes.Buffer).Bytes()
			if n != int64(len(payload)) || echoed != n || !bytes.Equal(got, payload) {
				t.Fatalf("WriteTo moved %d bytes (agent %d), want %d identical bytes", n, echoed, len(payload))
			}
		})
	}
}
