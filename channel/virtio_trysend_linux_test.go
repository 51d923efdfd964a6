package channel

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/wire"
)

// virtioGuest accepts a session on port (a pty master) for a host that
// connects to slave and pings first, and returns both ends.
func virtioGuest(t *testing.T, port *os.File, slave string) (guest *virtioChannel, host *Stream) {
	t.Helper()
	l := newVirtioListener(port, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host = NewStream(openHostEnd(t, slave), StreamOptions{})
	t.Cleanup(func() { host.Close() })
	if err := host.Send(ctx, &wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, 0)}); err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var f wire.Frame
	if err := c.Receive(ctx, &f); err != nil || f.Type != wire.TypePing {
		t.Fatalf("the host's ping: %v, %v", &f, err)
	}
	return c.(*virtioChannel), host
}

// TestVirtioTrySend: on a virtio port TrySend writes frames until the
// port is full and then declines without blocking, and every frame it
// reported sent reaches the host whole and in order.
func TestVirtioTrySend(t *testing.T) {
	master, slave := openPty(t)
	guest, host := virtioGuest(t, master, slave)
	sent := 0
	for {
		f := wire.Frame{Type: wire.TypePong, Payload: wire.AppendPing(nil, uint64(sent))}
		ok, err := guest.TrySend(&f)
		if err != nil {
			t.Fatalf("TrySend: %v", err)
		}
		if !ok {
			break
		}
		if sent++; sent > 1_000_000 {
			t.Fatal("TrySend never found the port full")
		}
	}
	if sent == 0 {
		t.Fatal("TrySend sent nothing to an empty port")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range sent {
		var f wire.Frame
		if err := host.Receive(ctx, &f); err != nil {
			t.Fatalf("frame %d of %d: %v", i, sent, err)
		}
		if v, err := wire.ParsePing(f.Payload); err != nil || v != uint64(i) || f.Type != wire.TypePong {
			t.Fatalf("frame %d: %v carrying %d (%v)", i, f.Type, v, err)
		}
	}
}

// TestVirtioTrySendBlockingPort: a port opened without O_NONBLOCK, which
// a write could block on, declines every TrySend and still sends.
func TestVirtioTrySendBlockingPort(t *testing.T) {
	master, slave := openPty(t)
	fd := int(master.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A blocking duplicate, as a caller's own open without O_NONBLOCK.
	bfd, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	master.Close()
	if _, err := unix.FcntlInt(uintptr(bfd), unix.F_SETFL, fl&^unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	port := os.NewFile(uintptr(bfd), "/dev/ptmx")
	if port == nil {
		testenv.Missing(t, "a file for the blocking pty master")
	}
	guest, host := virtioGuest(t, port, slave)
	ok, err := guest.TrySend(&wire.Frame{Type: wire.TypePong, Payload: wire.AppendPing(nil, 1)})
	if ok || err != nil {
		t.Fatalf("TrySend on a blocking port: %v, %v; want false, nil", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := guest.Send(ctx, &wire.Frame{Type: wire.TypePong, Payload: wire.AppendPing(nil, 2)}); err != nil {
		t.Fatal(err)
	}
	var f wire.Frame
	if err := host.Receive(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if v, _ := wire.ParsePing(f.Payload); v != 2 {
		t.Fatalf("host got %v %d, want the PONG Send sent (%s)", f.Type, v, fmt.Sprint(f.Payload))
	}
}
