package channel_test

import (
	"context"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/wire"
)

// TestReceiveWatchAllocs: a Receive whose ctx can end arranges for it to
// interrupt the read with context.AfterFunc alone (two allocations), not
// with a channel and closures of its own per call as well.
func TestReceiveWatchAllocs(t *testing.T) {
	a, z := testutil.SocketPair(t)
	s := channel.NewStream(a, channel.StreamOptions{})
	r := channel.NewStream(z, channel.StreamOptions{})
	const runs = 200
	for i := range runs + 1 {
		f := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, uint64(i))}
		if err := s.Send(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f wire.Frame
	allocs := testing.AllocsPerRun(runs, func() {
		if err := r.Receive(ctx, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("Receive with a cancelable ctx allocated %.1f times, want at most 2 (context.AfterFunc's)", allocs)
	}
}
