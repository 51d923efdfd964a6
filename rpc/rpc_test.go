package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

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
	const window = rpc.DefaultClientWindow // a client's default receive window
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
