package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/wire"
)

func helloFrame(name string) *wire.Frame {
	return &wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 1 << 16, Name: name})}
}

func pingFrame(n uint64) *wire.Frame {
	return &wire.Frame{Type: wire.TypePing, Payload: binary.BigEndian.AppendUint64(nil, n)}
}

// rawHost is a host speaking frames by hand on the virtio port's chardev
// socket, with the raw connection beside them for bytes that are not.
type rawHost struct {
	conn net.Conn
	ch   *channel.Stream
}

func dialRaw(ctx context.Context, t *testing.T, vm *qemu.VM) *rawHost {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", vm.Sock)
	if err != nil {
		t.Fatal(err)
	}
	h := &rawHost{conn: conn, ch: channel.NewStream(conn, channel.StreamOptions{})}
	t.Cleanup(func() { h.ch.Close() })
	return h
}

// until reads frames, skipping others, until one of type typ whose
// payload satisfies ok; the frames skipped are returned for messages.
func (h *rawHost) until(ctx context.Context, t *testing.T, typ wire.Type, ok func([]byte) bool) []wire.Type {
	t.Helper()
	var skipped []wire.Type
	for {
		var f wire.Frame
		if err := h.ch.Receive(ctx, &f); err != nil {
			t.Fatalf("waiting for %v (after %v): %v", typ, skipped, err)
		}
		if f.Type == typ && ok(f.Payload) {
			return skipped
		}
		skipped = append(skipped, f.Type)
	}
}

func (h *rawHost) send(ctx context.Context, t *testing.T, f *wire.Frame) {
	t.Helper()
	if err := h.ch.Send(ctx, f); err != nil {
		t.Fatalf("send %v: %v", f.Type, err)
	}
}

func (h *rawHost) hello(ctx context.Context, t *testing.T) {
	t.Helper()
	h.until(ctx, t, wire.TypeHello, func(p []byte) bool {
		hl, err := wire.ParseHello(p)
		if err != nil || hl.Name != "guestrpc-init" {
			t.Fatalf("agent HELLO %+v, %v; want guestrpc-init's", hl, err)
		}
		return true
	})
}

func (h *rawHost) ping(ctx context.Context, t *testing.T, n uint64) {
	t.Helper()
	h.send(ctx, t, pingFrame(n))
	h.until(ctx, t, wire.TypePong, func(p []byte) bool { return len(p) == 8 && binary.BigEndian.Uint64(p) == n })
}

// testHelloMidSession: a host that reconnects without the guest seeing a
// hang-up (its HELLO follows the old host's frames on the same port) gets
// a new session, on the real virtio-serial port as on the pty.
func testHelloMidSession(ctx context.Context, t *testing.T, vm *qemu.VM) {
	h := dialRaw(ctx, t, vm)
	h.send(ctx, t, helloFrame("old"))
	h.hello(ctx, t)
	h.ping(ctx, t, 1)
	for i := range 3 {
		h.send(ctx, t, helloFrame("new"))
		h.hello(ctx, t)
		h.ping(ctx, t, uint64(100+i))
	}
}

// testGarbageResync: bytes that are no frame (a host cut off mid-frame,
// then noise) end the session; the next HELLO on the port starts one.
func testGarbageResync(ctx context.Context, t *testing.T, vm *qemu.VM) {
	h := dialRaw(ctx, t, vm)
	garbage := []byte{0, 0, 0, 5, 0, 0, 0, 9, 0xEE, 0, 'x', 'y', 'z'}
	if _, err := h.conn.Write(garbage); err != nil {
		t.Fatal(err)
	}
	// The agent answers garbage with nothing; give it the bytes alone
	// before the noise and the HELLO, as a host would after a cut.
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	var f wire.Frame
	err := h.ch.Receive(rctx, &f)
	cancel()
	if err == nil {
		t.Fatalf("the agent answered garbage with a %v frame", f.Type)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("reading after garbage: %v", err)
	}
	if _, err := h.conn.Write([]byte("noise GSRP \x00\x00\x01")); err != nil {
		t.Fatal(err)
	}
	h.send(ctx, t, helloFrame("resynced"))
	h.hello(ctx, t)
	h.ping(ctx, t, 7)
}
