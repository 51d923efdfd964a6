package rpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hang bounds every wait in these tests. It is not a timing assertion:
// reaching it means something hung.
const hang = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test if it does not
// within the hang bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recv receives from ch or fails the test after the hang bound.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hang):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func randBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// echo copies the request to the response.
func echo(ctx context.Context, call *rpc.Request) (any, error) {
	_, err := io.Copy(call, call)
	return nil, err
}

func TestConcurrentStreams(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("echo", echo)
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	const streams = 100
	errs := make(chan error, streams)
	for i := range streams {
		go func() {
			errs <- func() error {
				want := randBytes(uint64(i), 1000+i*300)
				s, err := c.Open(ctx, "echo", nil)
				if err != nil {
					return err
				}
				defer s.Close()
				werr := make(chan error, 1)
				go func() {
					_, err := s.Write(want)
					if err == nil {
						err = s.CloseWrite()
					}
					werr <- err
				}()
				got, err := io.ReadAll(s)
				if err != nil {
					return fmt.Errorf("stream %d: read: %w", i, err)
				}
				if err := <-werr; err != nil {
					return fmt.Errorf("stream %d: write: %w", i, err)
				}
				if err := s.Wait(nil); err != nil {
					return fmt.Errorf("stream %d: status: %w", i, err)
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("stream %d: got %d bytes back, want %d, equal prefix %v", i, len(got), len(want), bytes.HasPrefix(want, got))
				}
				return nil
			}()
		}()
	}
	for range streams {
		if err := recv(t, "a stream", errs); err != nil {
			t.Error(err)
		}
	}
	if n := c.NumStreams(); n != 0 {
		t.Errorf("client holds %d streams after they all ended", n)
	}
}

// TestStalledReaderServerToClient: a handler writing to a client that
// does not read stops after one window, and other streams go on.
func TestStalledReaderServerToClient(t *testing.T) {
	const chunk = 4 << 10
	const window = 1 << 20 // a client's default receive window
	var written atomic.Int64
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("flood", func(ctx context.Context, call *rpc.Request) (any, error) {
		buf := make([]byte, chunk)
		for {
			if _, err := call.Write(buf); err != nil {
				return nil, err
			}
			written.Add(chunk)
		}
	})
	srv.HandleFunc("download", func(ctx context.Context, call *rpc.Request) (any, error) {
		var n int
		if err := call.DecodeArgs(&n); err != nil {
			return nil, err
		}
		_, err := call.Write(randBytes(1, n))
		return nil, err
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	stalled, err := c.Open(ctx, "flood", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// The handler fills the client's window and then blocks: the client
	// holds exactly one window of unread bytes.
	waitFor(t, "the flood handler to fill the window", func() bool { return written.Load() >= window })

	// Other streams are not held up by the stalled one.
	for i := range 3 {
		s, err := c.Open(ctx, "download", 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatalf("download %d: %v", i, err)
		}
		if err := s.Wait(nil); err != nil {
			t.Fatalf("download %d: %v", i, err)
		}
		if !bytes.Equal(got, randBytes(1, 1<<20)) {
			t.Fatalf("download %d: wrong data (%d bytes)", i, len(got))
		}
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := written.Load(); n != window {
		t.Fatalf("the stalled stream's handler wrote %d bytes, want exactly the window %d", n, window)
	}

	// Reading lets it go on, never more than a window ahead of the reader.
	buf := make([]byte, 32<<10)
	var read int64
	for read < 4<<20 {
		n, err := stalled.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		read += int64(n)
		if w := written.Load(); w > read+window {
			t.Fatalf("handler wrote %d bytes with %d read: more than a window (%d) in flight", w, read, window)
		}
	}
}

// TestStalledReaderClientToServer: a client writing to a handler that
// does not read blocks after the server's window.
func TestStalledReaderClientToServer(t *testing.T) {
	const window = 32 << 10
	const chunk = 1 << 10
	release := make(chan struct{})
	srv := rpc.NewServer(rpc.ServerOptions{Window: window})
	srv.HandleFunc("sink", func(ctx context.Context, call *rpc.Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		n, err := io.Copy(io.Discard, call)
		return n, err
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	s, err := c.Open(ctx, "sink", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sent atomic.Int64
	const total = 1 << 20
	writeErr := make(chan error, 1)
	go func() {
		buf := make([]byte, chunk)
		for sent.Load() < total {
			if _, err := s.Write(buf); err != nil {
				writeErr <- err
				return
			}
			sent.Add(chunk)
		}
		writeErr <- s.CloseWrite()
	}()
	waitFor(t, "the writer to fill the window", func() bool { return sent.Load() >= window })
	if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := sent.Load(); n != window {
		t.Fatalf("client sent %d bytes to a handler that reads nothing, want the server's window %d", n, window)
	}
	close(release)
	if err := recv(t, "the writer", writeErr); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.Wait(&n); err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Errorf("handler read %d bytes, want %d", n, total)
	}
}

func TestCancelPropagates(t *testing.T) {
	started := make(chan struct{}, 1)
	handlerErr := make(chan error, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, ctx.Err()
	})
	c := testutil.Pair(t, srv)

	t.Run("Call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		done := make(chan error, 1)
		go func() { done <- c.Call(ctx, "block", nil, nil) }()
		recv(t, "the handler to start", started)
		cancel()
		if err := recv(t, "Call to return", done); !errors.Is(err, context.Canceled) {
			t.Errorf("Call: %v, want context.Canceled", err)
		}
		if err := recv(t, "the handler's ctx", handlerErr); err != context.Canceled {
			t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
		}
	})
	// Open's ctx bounds the opening only: canceling it afterwards leaves
	// the stream running, and CloseWithError ends it with the given error.
	t.Run("Open", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		s, err := c.Open(ctx, "block", nil)
		if err != nil {
			t.Fatal(err)
		}
		recv(t, "the handler to start", started)
		cancel()
		if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
			t.Fatal(err) // a round trip after the cancel: a CANCEL would have gone first
		}
		select {
		case err := <-handlerErr:
			t.Fatalf("canceling Open's ctx after Open returned ended the handler: %v", err)
		case <-s.Done():
			t.Fatal("canceling Open's ctx after Open returned ended the stream")
		default:
		}
		errMine := errors.New("mine")
		s.CloseWithError(errMine)
		if err := recv(t, "the handler's ctx", handlerErr); err != context.Canceled {
			t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
		}
		if err := s.Wait(nil); err != errMine {
			t.Errorf("Wait: %v, want the error given to CloseWithError", err)
		}
		if _, err := c.Open(ctx, "block", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Open with a canceled ctx: %v, want context.Canceled", err)
		}
	})
	t.Run("Stream.Close", func(t *testing.T) {
		s, err := c.Open(testCtx(t), "block", nil)
		if err != nil {
			t.Fatal(err)
		}
		recv(t, "the handler to start", started)
		s.Close()
		if err := recv(t, "the handler's ctx", handlerErr); err != context.Canceled {
			t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
		}
		if _, err := s.Read(make([]byte, 1)); err == nil {
			t.Error("Read on a closed stream succeeded")
		}
	})
	// The connection is fine afterwards, and holds no dead streams.
	if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := c.NumStreams(); n != 0 {
		t.Errorf("client holds %d streams after they all ended", n)
	}
}

// TestDeadlineTravels: the client's deadline reaches the handler's ctx.
// (TestOpenTimeoutEnforced checks that the agent enforces it on its own.)
func TestDeadlineTravels(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("deadline", func(ctx context.Context, call *rpc.Request) (any, error) {
		d, ok := ctx.Deadline()
		return map[string]any{"ok": ok, "deadline": d}, nil
	})
	c := testutil.Pair(t, srv)

	var res struct {
		OK       bool      `json:"ok"`
		Deadline time.Time `json:"deadline"`
	}
	if err := c.Call(context.Background(), "deadline", nil, &res); err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Errorf("handler has a deadline (%v) though the client set none", res.Deadline)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	clientDeadline, _ := ctx.Deadline()
	if err := c.Call(ctx, "deadline", nil, &res); err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatal("handler ctx has no deadline though the client's ctx has one")
	}
	// The timeout is relative and the agent starts it on arrival, so its
	// deadline is the client's plus transit time. Same clock here: it
	// must be near the client's, not an hour off or zero.
	if d := res.Deadline.Sub(clientDeadline); d < -time.Minute || d > time.Minute {
		t.Errorf("handler deadline %v, client deadline %v", res.Deadline, clientDeadline)
	}
}

func TestPanicRecovery(t *testing.T) {
	var logBuf testutil.LockedBuffer
	srv := rpc.NewServer(rpc.ServerOptions{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	srv.HandleFunc("panic", func(ctx context.Context, call *rpc.Request) (any, error) {
		panic("boom")
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	for range 3 {
		err := c.Call(ctx, "panic", nil, nil)
		if !errors.Is(err, rpc.ErrInternal) || rpc.CodeOf(err) != rpc.Internal {
			t.Fatalf("Call of a panicking handler: %v, want Internal", err)
		}
		if !strings.Contains(err.Error(), "boom") {
			t.Errorf("error %q does not carry the panic value", err)
		}
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Fatalf("sys.ping after a panic: %v", err)
		}
	}
	if log := logBuf.String(); !strings.Contains(log, "panicked") || !strings.Contains(log, "boom") {
		t.Errorf("panic not logged; log:\n%s", log)
	}
}

func TestUnknownMethod(t *testing.T) {
	c := testutil.Pair(t, rpc.NewServer(rpc.ServerOptions{}))
	ctx := testCtx(t)
	err := c.Call(ctx, "no.such.method", nil, nil)
	if !errors.Is(err, rpc.ErrUnimplemented) || rpc.CodeOf(err) != rpc.Unimplemented {
		t.Fatalf("Call: %v, want Unimplemented", err)
	}
	if !strings.Contains(err.Error(), "no.such.method") {
		t.Errorf("error %q does not name the method", err)
	}
	s, err := c.Open(ctx, "no.such.method", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(nil); rpc.CodeOf(err) != rpc.Unimplemented {
		t.Errorf("Open+Wait: %v, want Unimplemented", err)
	}
}

func TestShutdownWaitsForCalls(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("slow", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-release
		return "finished", nil
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	callDone := make(chan error, 1)
	var result string
	go func() { callDone <- c.Call(ctx, "slow", nil, &result) }()
	recv(t, "the handler to start", started)

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- srv.Shutdown(ctx) }()
	// Once new calls are refused, Shutdown is under way.
	waitFor(t, "new calls to be refused", func() bool {
		return rpc.CodeOf(c.Call(ctx, "sys.ping", nil, nil)) == rpc.Unavailable
	})
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) with a call in flight", err)
	case err := <-callDone:
		t.Fatalf("the call ended (%v) before its handler returned", err)
	default:
	}
	close(release)
	if err := recv(t, "the call", callDone); err != nil || result != "finished" {
		t.Errorf("in-flight call: %q, %v; want it to finish normally", result, err)
	}
	if err := recv(t, "Shutdown", shutdownDone); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// Shutdown closed the connection.
	recv(t, "the client connection to end", c.Done())
}

func TestShutdownDeadlineCancelsCalls(t *testing.T) {
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("stuck", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, ctx.Err()
	})
	c := testutil.Pair(t, srv)
	callDone := make(chan error, 1)
	go func() { callDone <- c.Call(testCtx(t), "stuck", nil, nil) }()
	recv(t, "the handler to start", started)

	sctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
	}
	if err := recv(t, "the handler to be canceled", handlerErr); !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
	}
	if err := recv(t, "the call", callDone); rpc.CodeOf(err) != rpc.Unavailable {
		t.Errorf("call: %v, want Unavailable", err)
	}
}

func TestMiddlewareOrder(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	record := func(s string) {
		mu.Lock()
		trace = append(trace, s)
		mu.Unlock()
	}
	mw := func(name string) rpc.Middleware {
		return func(next rpc.Handler) rpc.Handler {
			return rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
				record(name + ">")
				res, err := next.ServeRPC(ctx, call)
				record("<" + name)
				return res, err
			})
		}
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.Use(mw("a"), mw("b"))
	srv.HandleFunc("m", func(ctx context.Context, call *rpc.Request) (any, error) {
		record("handler")
		return nil, nil
	})
	srv.Use(mw("c")) // applies to handlers registered before, too
	c := testutil.Pair(t, srv)
	if err := c.Call(testCtx(t), "m", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("middleware order (-want +got):\n%s", diff)
	}
}

func TestMiddlewareCanRefuse(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	var ran atomic.Bool
	srv.HandleFunc("secret", func(ctx context.Context, call *rpc.Request) (any, error) {
		ran.Store(true)
		return nil, nil
	})
	srv.Use(func(next rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
			if call.Method == "secret" {
				return nil, rpc.Errorf(rpc.Unauthenticated, "who are you")
			}
			return next.ServeRPC(ctx, call)
		})
	})
	c := testutil.Pair(t, srv)
	if err := c.Call(testCtx(t), "secret", nil, nil); !errors.Is(err, rpc.ErrUnauthenticated) {
		t.Errorf("Call: %v, want Unauthenticated", err)
	}
	if ran.Load() {
		t.Error("handler ran though the middleware refused the call")
	}
}

func TestLanes(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("lanes", func(ctx context.Context, call *rpc.Request) (any, error) {
		// Request: lanes 1 and 2, read after the client's CloseWrite.
		one, err := io.ReadAll(call.LaneReader(1))
		if err != nil {
			return nil, err
		}
		two, err := io.ReadAll(call.LaneReader(2))
		if err != nil {
			return nil, err
		}
		// Response: interleaved on lanes 0, 1 and 2.
		for i := range 5 {
			fmt.Fprintf(call, "out%d;", i)
			fmt.Fprintf(call.LaneWriter(1), "err%d;", i)
			fmt.Fprintf(call.LaneWriter(2), "ev%d;", i)
		}
		return map[string]string{"one": string(one), "two": string(two)}, nil
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	s, err := c.Open(ctx, "lanes", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(s.LaneWriter(2), "B%d", i)
		fmt.Fprintf(s.LaneWriter(1), "A%d", i)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var res map[string]string
	if err := s.Wait(&res); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"one": res["one"], "two": res["two"]}
	for lane := range rpc.Lane(4) {
		b, err := io.ReadAll(s.LaneReader(lane))
		if err != nil {
			t.Fatalf("lane %d: %v", lane, err)
		}
		got[fmt.Sprint(lane)] = string(b)
	}
	want := map[string]string{
		"one": "A0A1A2", "two": "B0B1B2",
		"0": "out0;out1;out2;out3;out4;", "1": "err0;err1;err2;err3;err4;", "2": "ev0;ev1;ev2;ev3;ev4;", "3": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lanes (-want +got):\n%s", diff)
	}
	if _, err := s.LaneReader(16).Read(make([]byte, 1)); err == nil {
		t.Error("reading lane 16 succeeded")
	}
}

func TestCloseWriteGivesHandlerEOF(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("read", func(ctx context.Context, call *rpc.Request) (any, error) {
		var got []byte
		buf := make([]byte, 3)
		for {
			n, err := call.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		// EOF is sticky.
		if n, err := call.Read(buf); n != 0 || err != io.EOF {
			return nil, fmt.Errorf("second Read after EOF: %d, %v", n, err)
		}
		return string(got), nil
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	s, err := c.Open(ctx, "read", nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(s, "hello, ")
	io.WriteString(s, "agent")
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("late")); err == nil {
		t.Error("Write after CloseWrite succeeded")
	}
	var got string
	if err := s.Wait(&got); err != nil {
		t.Fatal(err)
	}
	if got != "hello, agent" {
		t.Errorf("handler read %q", got)
	}
	// A unary Call half-closes with the OPEN: the handler sees EOF at once.
	if err := c.Call(ctx, "read", nil, &got); err != nil || got != "" {
		t.Errorf("Call: %q, %v", got, err)
	}
}

func TestLargeStream(t *testing.T) {
	const size = 6<<20 + 12345
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("sha256", func(ctx context.Context, call *rpc.Request) (any, error) {
		h := sha256.New()
		n, err := io.Copy(h, call)
		if err != nil {
			return nil, err
		}
		return map[string]any{"n": n, "sum": h.Sum(nil)}, nil
	})
	srv.HandleFunc("download", func(ctx context.Context, call *rpc.Request) (any, error) {
		_, err := call.Write(randBytes(2, size))
		return nil, err
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	t.Run("upload", func(t *testing.T) {
		data := randBytes(3, size)
		s, err := c.Open(ctx, "sha256", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(data); err != nil {
			t.Fatal(err)
		}
		s.CloseWrite()
		var res struct {
			N   int64
			Sum []byte
		}
		if err := s.Wait(&res); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		if res.N != size || !bytes.Equal(res.Sum, want[:]) {
			t.Errorf("agent got %d bytes with sha256 %x, want %d bytes, %x", res.N, res.Sum, size, want)
		}
	})
	t.Run("download", func(t *testing.T) {
		s, err := c.Open(ctx, "download", nil)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Wait(nil); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(randBytes(2, size))
		if n != size || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Errorf("got %d bytes with sha256 %x, want %d, %x", n, h.Sum(nil), size, want)
		}
	})
}

func TestMaxStreams(t *testing.T) {
	started := make(chan struct{}, 2)
	srv := rpc.NewServer(rpc.ServerOptions{MaxStreams: 2})
	srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	var held []*rpc.Stream
	for range 2 {
		s, err := c.Open(ctx, "block", nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
		recv(t, "a handler to start", started)
	}
	for _, m := range []string{"sys.ping", "block"} {
		if err := c.Call(ctx, m, nil, nil); !errors.Is(err, rpc.ErrResourceExhausted) {
			t.Fatalf("call %s past MaxStreams: %v, want ResourceExhausted", m, err)
		}
	}
	held[0].Close()
	waitFor(t, "a slot to free up", func() bool {
		return !errors.Is(c.Call(ctx, "sys.ping", nil, nil), rpc.ErrResourceExhausted)
	})
	if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	held[1].Close()
}

func TestSysPingAndInfo(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{Name: "test-agent"})
	srv.HandleFunc("custom.method", func(ctx context.Context, call *rpc.Request) (any, error) { return nil, nil })
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	if c.PeerName() != "test-agent" {
		t.Errorf("PeerName() = %q", c.PeerName())
	}
	var raw json.RawMessage
	if err := c.Call(ctx, "sys.ping", nil, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 0 {
		t.Errorf("sys.ping result %s, want none", raw)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("protocol PING: %v", err)
	}

}

// TestErrorMapping: what a handler returns is what the client can test
// for with errors.Is and CodeOf.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode rpc.Code
		wantIs   []error
		wantMsg  string
	}{
		{"fs.ErrNotExist", fmt.Errorf("open /x: %w", fs.ErrNotExist), rpc.NotFound, []error{fs.ErrNotExist, os.ErrNotExist, rpc.ErrNotFound}, "open /x: file does not exist"},
		{"*PathError ENOENT", &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, rpc.NotFound, []error{fs.ErrNotExist}, "open /x: no such file or directory"},
		{"fs.ErrExist", fs.ErrExist, rpc.AlreadyExists, []error{fs.ErrExist, rpc.ErrAlreadyExists}, ""},
		{"fs.ErrPermission", fs.ErrPermission, rpc.PermissionDenied, []error{fs.ErrPermission, rpc.ErrPermissionDenied}, ""},
		{"ENOTDIR", syscall.ENOTDIR, rpc.FailedPrecondition, []error{rpc.ErrFailedPrecondition}, ""},
		{"EINVAL", syscall.EINVAL, rpc.InvalidArgument, []error{rpc.ErrInvalidArgument}, ""},
		{"ENOSPC", syscall.ENOSPC, rpc.ResourceExhausted, []error{rpc.ErrResourceExhausted}, ""},
		{"context.DeadlineExceeded", context.DeadlineExceeded, rpc.DeadlineExceeded, []error{context.DeadlineExceeded, rpc.ErrDeadlineExceeded}, ""},
		{"context.Canceled", context.Canceled, rpc.Canceled, []error{context.Canceled, rpc.ErrCanceled}, ""},
		{"Errorf", rpc.Errorf(rpc.OutOfRange, "offset %d", 7), rpc.OutOfRange, []error{rpc.ErrOutOfRange, &rpc.Error{Code: rpc.OutOfRange, Message: "offset 7"}}, "offset 7"},
		{"plain error", errors.New("it broke"), rpc.Unknown, []error{rpc.ErrUnknown}, "it broke"},
		{"*Error with code OK", &rpc.Error{Code: rpc.OK, Message: "odd"}, rpc.Unknown, []error{rpc.ErrUnknown}, ""},
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	var mu sync.Mutex
	var current error
	srv.HandleFunc("fail", func(ctx context.Context, call *rpc.Request) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return "ignored", current
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			current = tt.err
			mu.Unlock()
			var res string
			err := c.Call(ctx, "fail", nil, &res)
			if got := rpc.CodeOf(err); got != tt.wantCode {
				t.Errorf("CodeOf(%v) = %v, want %v", err, got, tt.wantCode)
			}
			var rerr *rpc.Error
			if !errors.As(err, &rerr) {
				t.Fatalf("error %T is not an *rpc.Error", err)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			if errors.Is(err, rpc.ErrInternal) || (tt.wantCode != rpc.NotFound && errors.Is(err, fs.ErrNotExist)) {
				t.Errorf("%v matches an unrelated error", err)
			}
			if tt.wantMsg != "" && rerr.Message != tt.wantMsg {
				t.Errorf("message %q, want %q", rerr.Message, tt.wantMsg)
			}
			if res != "" {
				t.Errorf("failed call filled the result with %q", res)
			}
		})
	}
}

func TestResultsAndArgs(t *testing.T) {
	type req struct {
		A, B int
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.RegisterHandler("add", rpc.Unary(func(ctx context.Context, r req) (int, error) { return r.A + r.B, nil }))
	srv.HandleFunc("raw", func(ctx context.Context, call *rpc.Request) (any, error) {
		return json.RawMessage(`{"raw":true}`), nil
	})
	srv.HandleFunc("unencodable", func(ctx context.Context, call *rpc.Request) (any, error) {
		return make(chan int), nil
	})
	srv.HandleFunc("args", func(ctx context.Context, call *rpc.Request) (any, error) {
		return json.RawMessage(append([]byte(nil), call.Args...)), nil
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	var sum int
	if err := c.Call(ctx, "add", req{2, 3}, &sum); err != nil || sum != 5 {
		t.Errorf("add: %d, %v", sum, err)
	}
	if err := c.Call(ctx, "add", nil, &sum); err != nil || sum != 0 {
		t.Errorf("add with no args: %d, %v; want the zero request", sum, err)
	}
	if err := c.Call(ctx, "add", json.RawMessage(`{"A":`), &sum); !errors.Is(err, rpc.ErrInvalidArgument) {
		t.Errorf("add with malformed args: %v, want InvalidArgument", err)
	}
	var raw map[string]bool
	if err := c.Call(ctx, "raw", nil, &raw); err != nil || !raw["raw"] {
		t.Errorf("raw: %v, %v", raw, err)
	}
	if err := c.Call(ctx, "unencodable", nil, nil); !errors.Is(err, rpc.ErrInternal) {
		t.Errorf("unencodable result: %v, want Internal", err)
	}
	big := strings.Repeat("x", 300)
	var echoed string
	if err := c.Call(ctx, "args", big, &echoed); err != nil || echoed != big {
		t.Errorf("args of %d bytes came back as %d bytes, %v", len(big)+2, len(echoed), err)
	}
}

func TestCodeOfAndIs(t *testing.T) {
	tests := []struct {
		err  error
		want rpc.Code
	}{
		{nil, rpc.OK},
		{errors.New("x"), rpc.Unknown},
		{fmt.Errorf("wrapped: %w", rpc.Errorf(rpc.DataLoss, "crc")), rpc.DataLoss},
		{fmt.Errorf("wrapped: %w", os.ErrNotExist), rpc.NotFound},
		{syscall.EISDIR, rpc.FailedPrecondition},
		{syscall.ENOTEMPTY, rpc.FailedPrecondition},
		{syscall.ENAMETOOLONG, rpc.InvalidArgument},
		{syscall.EMFILE, rpc.ResourceExhausted},
		{syscall.EACCES, rpc.PermissionDenied},
		{syscall.EEXIST, rpc.AlreadyExists},
	}
	for _, tt := range tests {
		if got := rpc.CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	// Errorf keeps its %w operand reachable on the server side.
	err := rpc.Errorf(rpc.NotFound, "user %q: %w", "bob", fs.ErrNotExist)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != `rpc: NotFound: user "bob": file does not exist` {
		t.Errorf("Errorf: %v", err)
	}
	// A message-bearing target matches only that message.
	if errors.Is(&rpc.Error{Code: rpc.NotFound, Message: "a"}, &rpc.Error{Code: rpc.NotFound, Message: "b"}) {
		t.Error("errors.Is matched different messages")
	}
	var names []string
	for c := rpc.OK; c <= rpc.Unauthenticated+1; c++ {
		names = append(names, c.String())
	}
	want := []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
		"PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
		"Internal", "Unavailable", "DataLoss", "Unauthenticated", "Code(17)"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Code names (-want +got):\n%s", diff)
	}
}

func TestConnectionLoss(t *testing.T) {
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, nil
	})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	s, err := c.Open(ctx, "block", nil)
	if err != nil {
		t.Fatal(err)
	}
	recv(t, "the handler to start", started)
	c.Close()
	if err := recv(t, "the handler's ctx", handlerErr); !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx.Err() after the connection closed: %v, want context.Canceled", err)
	}
	if err := s.Wait(nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("stream after Close: %v, want Unavailable", err)
	}
	if err := c.Call(ctx, "sys.ping", nil, nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("Call after Close: %v, want Unavailable", err)
	}
	if c.Err() == nil {
		t.Error("Err() is nil after Close")
	}
}

// TestServeListener: Serve accepts sessions until Shutdown, which makes
// it return ErrServerClosed and closes the listener; a Server that has
// shut down refuses to serve again.
func TestServeListener(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	ctx := testCtx(t)
	var clients []*rpc.Client
	for range 3 {
		c, err := dialUnix(ctx, sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, "Serve to return", served); !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("Serve: %v, want ErrServerClosed", err)
	}
	for i, c := range clients {
		recv(t, fmt.Sprintf("client %d to be disconnected", i), c.Done())
	}
	if _, err := channel.DialUnix(ctx, sock, channel.StreamOptions{}); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
	l2, err := channel.ListenUnix(filepath.Join(t.TempDir(), "again.sock"), channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ctx, l2); !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrServerClosed", err)
	}
}

// TestServeContextCancel: canceling Serve's ctx stops it at once, with
// in-flight calls canceled.
func TestServeContextCancel(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, nil
	})
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, l) }()
	ctx := testCtx(t)
	ch, err := channel.DialUnix(ctx, sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	callDone := make(chan error, 1)
	go func() { callDone <- c.Call(ctx, "block", nil, nil) }()
	recv(t, "the handler to start", started)
	cancel()
	if err := recv(t, "Serve to return", served); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v, want context.Canceled", err)
	}
	if err := recv(t, "the handler's ctx", handlerErr); !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
	}
	if err := recv(t, "the call", callDone); !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("call: %v, want Unavailable", err)
	}
}

// dialUnix connects a client to the agent at the unix socket path.
func dialUnix(ctx context.Context, path string) (*rpc.Client, error) {
	ch, err := channel.DialUnix(ctx, path, channel.StreamOptions{})
	if err != nil {
		return nil, err
	}
	return rpc.NewClient(ctx, ch, rpc.ClientOptions{})
}
