package channel_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/wire"
)

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()

	t.Run("stale socket is replaced", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("the stale socket file is gone already: %v", err)
		}
		nl, err := channel.ListenUnix(path, channel.StreamOptions{})
		if err != nil {
			t.Fatalf("ListenUnix over a stale socket: %v", err)
		}
		defer nl.Close()
		exchange(t, nl, path)
	})
	t.Run("live socket is refused", func(t *testing.T) {
		path := filepath.Join(dir, "live.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		if nl, err := channel.ListenUnix(path, channel.StreamOptions{}); err == nil {
			nl.Close()
			t.Fatal("ListenUnix took over a live socket")
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("the live socket no longer answers: %v", err)
		}
		c.Close()
	})
	t.Run("regular file is left alone", func(t *testing.T) {
		path := filepath.Join(dir, "file")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if nl, err := channel.ListenUnix(path, channel.StreamOptions{}); err == nil {
			nl.Close()
			t.Fatal("ListenUnix replaced a regular file")
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
			t.Errorf("file after ListenUnix: %q, %v", b, err)
		}
	})
}

// exchange dials path and sends one frame each way through l.
func exchange(t *testing.T, l channel.Listener, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	accepted := make(chan channel.Channel, 1)
	go func() {
		ch, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- ch
	}()
	c, err := channel.DialUnix(ctx, path, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	roundTrip(t, c, s)
}

func roundTrip(t *testing.T, c, s channel.Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	want := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, 77)}
	go func() { _ = c.Send(ctx, &want) }()
	var f wire.Frame
	if err := s.Receive(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f, payloadCmp); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
	go func() { _ = s.Send(ctx, &want) }()
	if err := c.Receive(ctx, &f); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	l, err := channel.ListenUnix(path, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Accept(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Accept with an expiring ctx: %v, want DeadlineExceeded", err)
	}
	// The listener is still good, with no deadline left behind.
	exchange(t, l, path)
	if l.Addr().String() != path {
		t.Errorf("Addr() = %v, want %s", l.Addr(), path)
	}
	l.Close()
	if _, err := l.Accept(context.Background()); !errors.Is(err, channel.ErrClosed) {
		t.Errorf("Accept after Close: %v, want ErrClosed", err)
	}
}

func TestListenAndDial(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()

	t.Run("unix", func(t *testing.T) {
		path := filepath.Join(dir, "t.sock")
		l, err := channel.ListenUnix(path, channel.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for range 2 {
			accepted := make(chan channel.Channel, 1)
			go func() {
				ch, _ := l.Accept(ctx)
				accepted <- ch
			}()
			c, err := channel.DialUnix(ctx, path, channel.StreamOptions{})
			if err != nil {
				t.Fatalf("DialUnix(%s): %v", path, err)
			}
			s := <-accepted
			if s == nil {
				t.Fatal("Accept failed")
			}
			roundTrip(t, c, s)
			c.Close()
			s.Close()
		}
	})
	t.Run("tcp", func(t *testing.T) {
		// Only a machine without TCP loopback may skip; ListenTCP
		// failing where net.Listen works is a bug in channel.
		if nl, err := net.Listen("tcp", "127.0.0.1:0"); err != nil {
			testenv.Missing(t, "TCP on 127.0.0.1 (net.Listen: %v)", err)
		} else {
			nl.Close()
		}
		l, err := channel.ListenTCP("127.0.0.1:0", channel.StreamOptions{})
		if err != nil {
			t.Fatalf("channel.ListenTCP(127.0.0.1:0): %v", err)
		}
		defer l.Close()
		accepted := make(chan channel.Channel, 1)
		go func() {
			ch, _ := l.Accept(ctx)
			accepted <- ch
		}()
		c, err := channel.DialTCP(ctx, l.Addr().String(), channel.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := <-accepted
		if s == nil {
			t.Fatal("Accept failed")
		}
		defer s.Close()
		roundTrip(t, c, s)
	})
}

func TestTrace(t *testing.T) {
	a, b := testutil.SocketPair(t)
	var buf testutil.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	inner := channel.NewStream(a, channel.StreamOptions{MaxPayload: 64 << 10})
	ch := channel.Trace(inner, logger)
	if channel.Trace(inner, nil) != channel.Channel(inner) {
		t.Error("Trace with a nil logger did not return the channel itself")
	}
	if got := channel.MaxPayload(ch); got != 64<<10 {
		t.Errorf("MaxPayload through Trace = %d", got)
	}
	if ch.RemoteAddr() != inner.RemoteAddr() {
		t.Errorf("RemoteAddr through Trace = %v", ch.RemoteAddr())
	}
	peer := channel.NewStream(b, channel.StreamOptions{})
	defer peer.Close()
	ctx := context.Background()
	if err := ch.Send(ctx, &wire.Frame{StreamID: 5, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: []byte("0123456789ab")}); err != nil {
		t.Fatal(err)
	}
	var f wire.Frame
	if err := peer.Receive(ctx, &f); err != nil || f.Type != wire.TypeOpen {
		t.Fatalf("peer: %v %v", &f, err)
	}
	if err := peer.Send(ctx, &wire.Frame{StreamID: 5, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(1), Payload: []byte("xyz")}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Receive(ctx, &f); err != nil || string(f.Payload) != "xyz" {
		t.Fatalf("Receive through Trace: %v %v", &f, err)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ch.Receive(ctx, &f); !errors.Is(err, channel.ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"level=DEBUG msg=send type=OPEN stream=5 flags=1 len=12",
		"level=DEBUG msg=receive type=DATA stream=5 flags=16 len=3",
		`level=DEBUG msg=receive error="channel: receive: use of closed network connection"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace log (-want +got):\n%s", diff)
	}
}
