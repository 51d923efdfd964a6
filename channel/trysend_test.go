package channel_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/wire"
)

// TestTrySendNeverBlocks: TrySend to a peer that reads nothing writes
// frames until the socket is full and then declines, without blocking;
// every frame it reported sent arrives whole once the peer reads.
func TestTrySendNeverBlocks(t *testing.T) {
	a, z := testutil.SocketPair(t)
	s := channel.NewStream(a, channel.StreamOptions{})
	r := channel.NewStream(z, channel.StreamOptions{})
	sent := 0
	for {
		f := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, uint64(sent))}
		ok, err := s.TrySend(&f)
		if err != nil {
			t.Fatalf("TrySend: %v", err)
		}
		if !ok {
			break
		}
		if sent++; sent > 10_000_000 {
			t.Fatal("TrySend never found the socket full")
		}
	}
	if sent == 0 {
		t.Fatal("TrySend sent nothing to an empty socket")
	}
	var got []uint64
	for range sent {
		var f wire.Frame
		if err := r.Receive(context.Background(), &f); err != nil {
			t.Fatalf("after %d frames: %v", len(got), err)
		}
		v, err := wire.ParsePing(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if v != uint64(len(got)) {
			t.Fatalf("frame %d carries %d", len(got), v)
		}
		got = append(got, v)
	}
	if diff := cmp.Diff(sent, len(got)); diff != "" {
		t.Errorf("frames received (-sent +got):\n%s", diff)
	}
}
