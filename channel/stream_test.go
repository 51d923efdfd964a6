package channel_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hang bounds waits; reaching it means something hung.
const hang = 20 * time.Second

// payloadCmp compares payloads by content, treating nil and empty alike.
var payloadCmp = cmp.Comparer(bytes.Equal)

// pairs yields connected byte streams to run each test over.
var pairs = []struct {
	name string
	make func(t *testing.T) (io.ReadWriteCloser, io.ReadWriteCloser)
}{
	{"net.Pipe", func(t *testing.T) (io.ReadWriteCloser, io.ReadWriteCloser) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}},
	{"unix", func(t *testing.T) (io.ReadWriteCloser, io.ReadWriteCloser) {
		return testutil.SocketPair(t)
	}},
}

func clone(f *wire.Frame) wire.Frame {
	g := *f
	g.Payload = bytes.Clone(f.Payload)
	return g
}

func TestStreamRoundTrip(t *testing.T) {
	frames := []wire.Frame{
		{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 1 << 18, Name: "t"})},
		{StreamID: 1, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: wire.AppendOpen(nil, time.Second, "sys.ping", nil)},
		{StreamID: 1, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(2), Payload: bytes.Repeat([]byte("abc"), 100000)},
		{StreamID: 1, Type: wire.TypeData},
		{StreamID: 1, Type: wire.TypeClose},
		{StreamID: 1, Type: wire.TypeStatus, Payload: wire.AppendStatus(nil, 0, "", []byte("{}"))},
		{Type: wire.TypePing, Payload: wire.AppendPing(nil, 9)},
	}
	for _, pair := range pairs {
		t.Run(pair.name, func(t *testing.T) {
			a, b := pair.make(t)
			ca, cb := channel.NewStream(a, channel.StreamOptions{}), channel.NewStream(b, channel.StreamOptions{})
			defer ca.Close()
			defer cb.Close()
			ctx := context.Background()
			sent := make(chan error, 1)
			go func() {
				for i := range frames {
					if err := ca.Send(ctx, &frames[i]); err != nil {
						sent <- err
						return
					}
				}
				sent <- ca.Close()
			}()
			var got []wire.Frame
			for {
				var f wire.Frame
				err := cb.Receive(ctx, &f)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Receive after %d frames: %v", len(got), err)
				}
				got = append(got, clone(&f))
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(frames, got, payloadCmp); diff != "" {
				t.Errorf("frames (-sent +received):\n%s", diff)
			}
		})
	}
}

// TestStreamConcurrentSend: Send is safe for concurrent use and never
// interleaves two frames.
func TestStreamConcurrentSend(t *testing.T) {
	a, b := testutil.SocketPair(t)
	ca, cb := channel.NewStream(a, channel.StreamOptions{}), channel.NewStream(b, channel.StreamOptions{})
	defer ca.Close()
	defer cb.Close()
	ctx := context.Background()
	const senders, each = 8, 50
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				p := bytes.Repeat([]byte{byte(s)}, 1000+i*100)
				if err := ca.Send(ctx, &wire.Frame{StreamID: uint32(2*s + 1), Type: wire.TypeData, Payload: p}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	counts := map[uint32]int{}
	for range senders * each {
		var f wire.Frame
		if err := cb.Receive(ctx, &f); err != nil {
			t.Fatal(err)
		}
		s := (f.StreamID - 1) / 2
		want := bytes.Repeat([]byte{byte(s)}, 1000+counts[f.StreamID]*100)
		if !bytes.Equal(f.Payload, want) {
			t.Fatalf("frame %d of stream %d is torn or out of order (%d bytes)", counts[f.StreamID], f.StreamID, len(f.Payload))
		}
		counts[f.StreamID]++
	}
	wg.Wait()
}

// TestReceiveContext: a canceled or expired ctx ends a blocked Receive
// with the ctx's error, and the connection stays usable.
func TestReceiveContext(t *testing.T) {
	for _, pair := range pairs {
		t.Run(pair.name, func(t *testing.T) {
			a, b := pair.make(t)
			ca, cb := channel.NewStream(a, channel.StreamOptions{}), channel.NewStream(b, channel.StreamOptions{})
			defer ca.Close()
			defer cb.Close()

			// Deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			var f wire.Frame
			err := cb.Receive(ctx, &f)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Receive with an expiring ctx: %v, want DeadlineExceeded", err)
			}
			// Cancel.
			ctx, cancel = context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cb.Receive(ctx, &f) }()
			time.Sleep(10 * time.Millisecond) // let Receive block; correctness does not depend on it
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Receive with a canceled ctx: %v, want Canceled", err)
				}
			case <-time.After(hang):
				t.Fatal("Receive ignored ctx cancellation")
			}
			// Already canceled: returns at once.
			if err := cb.Receive(ctx, &f); !errors.Is(err, context.Canceled) {
				t.Errorf("Receive with a done ctx: %v", err)
			}

			// Both directions still work, and no stale deadline lingers.
			want := wire.Frame{StreamID: 3, Type: wire.TypeData, Payload: []byte("still here")}
			go func() { _ = ca.Send(context.Background(), &want) }()
			rctx, rcancel := context.WithTimeout(context.Background(), hang)
			defer rcancel()
			if err := cb.Receive(rctx, &f); err != nil {
				t.Fatalf("Receive after the interrupted ones: %v", err)
			}
			if diff := cmp.Diff(want, f, payloadCmp); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
			go func() { _ = cb.Send(context.Background(), &want) }()
			if err := ca.Receive(context.Background(), &f); err != nil || string(f.Payload) != "still here" {
				t.Errorf("other direction: %v %v", &f, err)
			}
		})
	}
}

// TestReceiveInterruptedMidFrame: a Receive that ctx ends in the middle
// of a frame keeps what it read, and the next Receive finishes the frame,
// so a caller may give up waiting without costing the connection.
func TestReceiveInterruptedMidFrame(t *testing.T) {
	tests := []struct {
		name  string
		parts [][]byte // written with an interrupted Receive after each but the last
	}{
		{"in the header", [][]byte{{0, 0, 0, 4, 0}, {0, 0, 1, 3, 0, 'd', 'a', 't', 'a'}}},
		{"in the payload", [][]byte{{0, 0, 0, 4, 0, 0, 0, 1, 3, 0, 'd', 'a'}, {'t', 'a'}}},
		{"at each byte", [][]byte{{0}, {0}, {0}, {4}, {0}, {0}, {0}, {1}, {3}, {0}, {'d'}, {'a'}, {'t'}, {'a'}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := testutil.SocketPair(t)
			cb := channel.NewStream(b, channel.StreamOptions{})
			defer cb.Close()
			if !cb.ReceiveInterruptible() {
				t.Fatal("a stream over a socket reports it cannot be interrupted")
			}
			var f wire.Frame
			for i, p := range tt.parts {
				if _, err := a.Write(p); err != nil {
					t.Fatal(err)
				}
				if i == len(tt.parts)-1 {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				err := cb.Receive(ctx, &f)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Receive after part %d: %v, want DeadlineExceeded", i, err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			if err := cb.Receive(ctx, &f); err != nil {
				t.Fatalf("Receive of the rest: %v", err)
			}
			want := wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: []byte("data")}
			if diff := cmp.Diff(want, f, payloadCmp); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSendInterruptedMidFrame: a Send cut short by its ctx after part of
// a frame went out closes the stream, so the peer never reads the next
// frame as the rest of the torn one.
func TestSendInterruptedMidFrame(t *testing.T) {
	a, b := testutil.SocketPair(t)
	ca := channel.NewStream(a, channel.StreamOptions{})
	defer ca.Close()
	// Nobody reads b: a 4 MiB frame cannot go out whole.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := ca.Send(ctx, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, 4<<20)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v, want DeadlineExceeded", err)
	}
	if err := ca.Send(context.Background(), &wire.Frame{StreamID: 1, Type: wire.TypeClose}); !errors.Is(err, channel.ErrClosed) {
		t.Errorf("Send after a torn frame: %v, want ErrClosed", err)
	}
	_ = b.SetReadDeadline(time.Now().Add(hang)) // without the fix, the peer would wait for the rest
	cb := channel.NewStream(b, channel.StreamOptions{MaxPayload: wire.LimitMaxPayload})
	var f wire.Frame
	if err := cb.Receive(context.Background(), &f); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("peer: %v %v, want io.ErrUnexpectedEOF", &f, err)
	}
}

func TestMaxPayload(t *testing.T) {
	a, b := testutil.SocketPair(t)
	ca := channel.NewStream(a, channel.StreamOptions{})
	cb := channel.NewStream(b, channel.StreamOptions{MaxPayload: 1024})
	defer ca.Close()
	defer cb.Close()
	if got := channel.MaxPayload(cb); got != 1024 {
		t.Errorf("MaxPayload(cb) = %d", got)
	}
	if got := channel.MaxPayload(ca); got != wire.DefaultMaxPayload {
		t.Errorf("MaxPayload(ca) = %d, want the default", got)
	}
	ctx := context.Background()
	go func() {
		_ = ca.Send(ctx, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, 1024)})
		_ = ca.Send(ctx, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, 1025)})
	}()
	var f wire.Frame
	if err := cb.Receive(ctx, &f); err != nil || len(f.Payload) != 1024 {
		t.Fatalf("Receive at the cap: %v, %v", &f, err)
	}
	if err := cb.Receive(ctx, &f); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("Receive over the cap: %v, want ErrFrameTooLarge", err)
	}
	if err := ca.Send(ctx, &wire.Frame{Type: wire.TypeData, Payload: make([]byte, wire.LimitMaxPayload+1)}); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("Send over the protocol limit: %v, want ErrFrameTooLarge", err)
	}
}

func TestCloseUnblocks(t *testing.T) {
	a, b := testutil.SocketPair(t)
	_ = a
	cb := channel.NewStream(b, channel.StreamOptions{})
	done := make(chan error, 1)
	go func() {
		var f wire.Frame
		done <- cb.Receive(context.Background(), &f)
	}()
	time.Sleep(10 * time.Millisecond) // let Receive block; correctness does not depend on it
	cb.Close()
	select {
	case err := <-done:
		if !errors.Is(err, channel.ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Receive after Close: %v, want ErrClosed", err)
		}
	case <-time.After(hang):
		t.Fatal("Close did not unblock Receive")
	}
	if err := cb.Send(context.Background(), &wire.Frame{Type: wire.TypePing, Payload: make([]byte, 8)}); !errors.Is(err, channel.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	select {
	case <-cb.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if err := cb.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPeerHangUp(t *testing.T) {
	a, b := testutil.SocketPair(t)
	cb := channel.NewStream(b, channel.StreamOptions{})
	defer cb.Close()
	if cb.RemoteAddr() == nil || cb.RemoteAddr().Network() != "unix" {
		t.Errorf("RemoteAddr() = %v", cb.RemoteAddr())
	}
	a.Write(wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeClose, StreamID: 1}))
	a.Close()
	var f wire.Frame
	if err := cb.Receive(context.Background(), &f); err != nil || f.Type != wire.TypeClose {
		t.Fatalf("Receive: %v %v", &f, err)
	}
	if err := cb.Receive(context.Background(), &f); err != io.EOF {
		t.Errorf("Receive after the peer hung up: %v, want io.EOF", err)
	}
	// A stream without net.Conn has no address.
	r, w := io.Pipe()
	defer r.Close()
	if addr := channel.NewStream(struct {
		io.Reader
		io.WriteCloser
	}{r, w}, channel.StreamOptions{}).RemoteAddr(); addr != nil {
		t.Errorf("RemoteAddr of a pipe stream = %v, want nil", addr)
	}
}

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
