package rpc_test

import (
	"context"
	"fmt"
	"io"
	"net"
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

// sendHello writes a HELLO granting rpc.DefaultWindow to c.
func sendHello(t *testing.T, c net.Conn) {
	t.Helper()
	h := wire.Hello{Version: wire.Version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow}
	if err := wire.NewEncoder(c).Encode(&wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, h)}); err != nil {
		t.Fatal(err)
	}
}

// readHello reads the HELLO that who sent first on c.
func readHello(t *testing.T, c net.Conn, who string) wire.Hello {
	t.Helper()
	var f wire.Frame
	if err := wire.NewDecoder(c, 0).Decode(&f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("%s's first frame %v: %v", who, f.Type, err)
	}
	h, err := wire.ParseHello(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

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
			sendHello(t, z)
			h := readHello(t, z, "server")
			if diff := cmp.Diff(tc.want, h.InitialWindow); diff != "" {
				t.Errorf("window granted (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientWindow: a client grants the window its options set, and
// otherwise DefaultClientWindow, which is larger than the agent's.
func TestClientWindow(t *testing.T) {
	for _, tc := range []struct{ opts, want uint32 }{
		{0, rpc.DefaultClientWindow},
		{100 << 10, 100 << 10},
	} {
		t.Run(fmt.Sprintf("option %d", tc.opts), func(t *testing.T) {
			a, z := testutil.SocketPair(t)
			_ = z.SetDeadline(time.Now().Add(time.Minute)) // only so that a hang fails
			dialed := make(chan error, 1)
			go func() {
				c, err := rpc.NewClient(context.Background(), channel.NewStream(a, channel.StreamOptions{}), rpc.ClientOptions{Window: tc.opts})
				if err == nil {
					err = c.Close()
				}
				dialed <- err
			}()
			h := readHello(t, z, "client")
			if diff := cmp.Diff(tc.want, h.InitialWindow); diff != "" {
				t.Errorf("window granted (-want +got):\n%s", diff)
			}
			sendHello(t, z)
			if err := <-dialed; err != nil {
				t.Fatal(err)
			}
		})
	}
	if rpc.DefaultClientWindow <= rpc.DefaultWindow {
		t.Errorf("the client's default window %d is not larger than the agent's %d", rpc.DefaultClientWindow, rpc.DefaultWindow)
	}
}

// TestDefaultWindowKeepsFramesInFlight: with the default window a
// sender has four of the largest DATA frames on their way before the
// receiver consumes any, each way, so that a transfer is not paced frame
// by frame by the WINDOWs coming back.
func TestDefaultWindowKeepsFramesInFlight(t *testing.T) {
	const frame = 256 << 10 // the largest DATA frame a sender makes
	const ahead = 4 * frame
	release := make(chan struct{})
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("hold", func(ctx context.Context, call *rpc.Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if _, err := io.Copy(io.Discard, call); err != nil {
			return nil, err
		}
		_, err := call.Write(make([]byte, ahead))
		return nil, err
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	s, err := c.Open(ctx, "hold", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeErr := make(chan error, 1)
	go func() {
		buf := make([]byte, frame)
		for range ahead / frame {
			if _, err := s.Write(buf); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- s.CloseWrite()
	}()
	// The handler reads nothing yet: only the window lets these through.
	if err := recv(t, "the client's writes to a handler that reads nothing", writeErr); err != nil {
		t.Fatal(err)
	}
	close(release)
	// The host reads nothing until the handler has written all of it.
	waitFor(t, "the handler's reply to be sent", func() bool {
		return rpc.Buffered(s) >= ahead
	})
	if n, err := io.Copy(io.Discard, s); err != nil || n != ahead {
		t.Fatalf("read %d bytes (%v), want %d", n, err, ahead)
	}
	if err := s.Wait(nil); err != nil {
		t.Fatal(err)
	}
}
