package process_test

import (
	"context"
	"io"
	"testing"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// BenchmarkExecOutput64MiB streams 64 MiB of a command's stdout to the
// host: the pump's read size and the frame size set the pace.
func BenchmarkExecOutput64MiB(b *testing.B) {
	m, err := process.NewService(process.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	m.Register(srv)
	c := process.NewClient(testutil.Pair(b, srv))
	ctx := context.Background()
	b.SetBytes(64 << 20)
	for b.Loop() {
		if _, err := c.Run(ctx, process.Spec{Shell: "head -c 67108864 /dev/zero"}, nil, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
