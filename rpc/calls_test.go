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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

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

// TestPings: PINGs from many goroutines at once all get their PONG, a
// PING whose ctx has ended fails with ctx's error, and none is left in
// the client's table afterwards.
func TestPings(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := c.Ping(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Ping: %v", err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Ping(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with an ended ctx = %v, want context.Canceled", err)
	}
	if n := c.NumPings(); n != 0 {
		t.Errorf("%d PINGs left in the table", n)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("Ping after the canceled one: %v", err)
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
