package rpc_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestIdleConnectionGoroutines: an idle connection after HELLO and a
// call costs one goroutine on each side: the client's background reader
// and the agent's read loop, which runs on the goroutine serving the
// connection. Control frames need no writer goroutine of their own, and
// a Client.Ping answered by the agent leaves none behind.
func TestIdleConnectionGoroutines(t *testing.T) {
	const n = 40
	srv := rpc.NewServer(rpc.ServerOptions{Policy: rpc.Policy{Insecure: true}, MaxConns: n})
	ctx := context.Background()
	settle := func() int {
		// Goroutines that are ending (a flusher, say) get a moment.
		var g int
		for range 50 {
			runtime.Gosched()
			time.Sleep(2 * time.Millisecond)
			g = runtime.NumGoroutine()
		}
		return g
	}
	before := settle()
	for range n {
		c := testutil.Pair(t, srv)
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(settle()-before) / n
	if per > 2 {
		t.Errorf("%.2f goroutines per idle connection, both sides together; want at most 2 (one each side)", per)
	}
}
