package channel_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
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
