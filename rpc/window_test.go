package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// hintedStream is a channel that asks for a receive window, as a
// virtio-console session does.
type hintedStream struct {
	*channel.Stream
	window uint32
}

func (s hintedStream) RecvWindow() uint32 { return s.window }

// TestServerWindowFromChannel: a server grants the window its options
// set; without one, the window the channel asks for (a virtio-console
// session's VirtioWindow), and otherwise DefaultWindow.
func TestServerWindowFromChannel(t *testing.T) {
	for _, tc := range []struct {
		opts, hint uint32 // 0: none
		want       uint32
	}{
		{0, 0, rpc.DefaultWindow},
		{0, channel.VirtioWindow, channel.VirtioWindow},
		{100 << 10, channel.VirtioWindow, 100 << 10},
		{100 << 10, 0, 100 << 10},
	} {
		t.Run(fmt.Sprintf("option %d, hint %d", tc.opts, tc.hint), func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{Window: tc.opts})
			a, z := testutil.SocketPair(t)
			var ch channel.Channel = channel.NewStream(a, channel.StreamOptions{})
			if tc.hint != 0 {
				ch = hintedStream{ch.(*channel.Stream), tc.hint}
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan struct{})
			go func() { defer close(served); _ = srv.ServeChannel(ctx, ch) }()
			defer func() { cancel(); z.Close(); <-served }()
			_ = z.SetDeadline(time.Now().Add(time.Minute)) // only so that a hang fails
			hello := wire.Hello{Version: wire.Version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow}
			if err := wire.NewEncoder(z).Encode(&wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, hello)}); err != nil {
				t.Fatal(err)
			}
			var f wire.Frame
			if err := wire.NewDecoder(z, 0).Decode(&f); err != nil || f.Type != wire.TypeHello {
				t.Fatalf("server's first frame %v: %v", f.Type, err)
			}
			h, err := wire.ParseHello(f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h.InitialWindow); diff != "" {
				t.Errorf("window granted (-want +got):\n%s", diff)
			}
		})
	}
}
