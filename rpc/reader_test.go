package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// tricklingConn writes large writes a kilobyte at a time with a pause
// between pieces, so the reader sees a frame arrive in parts.
type tricklingConn struct {
	net.Conn
	pause time.Duration
}

func (c tricklingConn) Write(p []byte) (int, error) {
	if len(p) < 4096 {
		return c.Conn.Write(p)
	}
	n := 0
	for n < len(p) {
		m, err := c.Conn.Write(p[n:min(n+1024, len(p))])
		n += m
		if err != nil {
			return n, err
		}
		time.Sleep(c.pause)
	}
	return n, nil
}

func streamOf(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) }

// TestCallInterruptedMidReply: a call whose ctx ends while its goroutine
// is reading a reply that has only partly arrived returns the ctx's
// error, and the connection carries on: the next call finishes reading
// that frame and then gets its own reply whole.
func TestCallInterruptedMidReply(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 128<<10)
	result, _ := json.Marshal(string(big))
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("big", func(context.Context, *rpc.Request) (any, error) { return json.RawMessage(result), nil })
	c := testutil.PairOver(t, srv, func(c net.Conn) channel.Channel { return streamOf(tricklingConn{c, 100 * time.Microsecond}) }, streamOf)

	// 128 pieces with a pause after each: the first call gives up while
	// its reply is still arriving.
	short, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	var got string
	if err := c.Call(short, "big", nil, &got); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call with a short deadline: %v, want DeadlineExceeded", err)
	}
	for i := range 3 {
		got = ""
		if err := c.Call(testCtx(t), "big", nil, &got); err != nil {
			t.Fatalf("call %d after the interrupted one: %v", i, err)
		}
		if got != string(big) {
			t.Fatalf("call %d: result of %d bytes, want %d bytes of x", i, len(got), len(big))
		}
	}
	if err := c.Err(); err != nil {
		t.Errorf("connection after the interrupted call: %v", err)
	}
}

// TestIdleClientNoticesAgentGone: a client with nothing in flight still
// reads its connection, so Done closes when the agent goes away.
func TestIdleClientNoticesAgentGone(t *testing.T) {
	a, z := testutil.SocketPair(t)
	srv := rpc.NewServer(rpc.ServerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{})) }()
	c, err := rpc.NewClient(testCtx(t), channel.NewStream(z, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 10 { // calls that read their own replies
		if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	recv(t, "ServeChannel to return", served)
	recv(t, "the idle client to notice", c.Done())
	if err := c.Call(testCtx(t), "sys.ping", nil, nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("call after the agent went away: %v, want Unavailable", err)
	}
}

// opaque hides a channel's optional interfaces, as a Channel that cannot
// promise an interruptible Receive would.
type opaque struct{ channel.Channel }

// TestMixedTraffic: unary calls, streams and pings share a connection
// from many goroutines, over a channel whose reads calls may do
// themselves and over one where only the background reader reads; every
// result is right and cancellations cost nothing else.
func TestMixedTraffic(t *testing.T) {
	channels := []struct {
		name string
		ch   func(net.Conn) channel.Channel
	}{
		{"interruptible", streamOf},
		{"background only", func(c net.Conn) channel.Channel { return opaque{streamOf(c)} }},
	}
	for _, tc := range channels {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{})
			srv.HandleFunc("echo", echo)
			srv.RegisterHandler("double", rpc.Unary(func(ctx context.Context, n int) (int, error) { return 2 * n, nil }))
			srv.HandleFunc("sleep", func(ctx context.Context, _ *rpc.Request) (any, error) {
				select {
				case <-ctx.Done():
					// The agent enforces the deadline too, and its
					// STATUS may beat the client's own timer.
					return nil, ctx.Err()
				case <-time.After(hang):
					return nil, nil
				}
			})
			c := testutil.PairOver(t, srv, streamOf, tc.ch)
			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 8 {
				wg.Go(func() {
					for i := range 200 {
						var got int
						if err := c.Call(ctx, "double", g*1000+i, &got); err != nil {
							errs <- err
							return
						}
						if got != 2*(g*1000+i) {
							errs <- errors.New("double: wrong result")
							return
						}
						if i%50 == 0 { // a call given up on
							short, cancel := context.WithTimeout(ctx, time.Millisecond)
							err := c.Call(short, "sleep", nil, nil)
							cancel()
							if !errors.Is(err, context.DeadlineExceeded) {
								errs <- err
								return
							}
						}
					}
				})
			}
			for g := range 2 {
				wg.Go(func() {
					want := randBytes(uint64(g), 2<<20)
					s, err := c.Open(ctx, "echo", nil)
					if err != nil {
						errs <- err
						return
					}
					go func() { _, _ = s.Write(want); _ = s.CloseWrite() }()
					got, err := io.ReadAll(s)
					if err == nil {
						err = s.Wait(nil)
					}
					if err != nil {
						errs <- err
					} else if !bytes.Equal(got, want) {
						errs <- errors.New("echo: stream came back different")
					}
				})
			}
			wg.Go(func() {
				for range 100 {
					if _, err := c.Ping(ctx); err != nil {
						errs <- err
						return
					}
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestInline: an Inline handler runs on the read loop, behind the same
// middleware as any other, recovers from panics like any other, and gets
// FailedPrecondition instead of stalling the connection when it would
// wait for the peer.
func TestInline(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	var seen []string
	var mu sync.Mutex
	srv.Use(func(h rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
			mu.Lock()
			seen = append(seen, call.Method)
			mu.Unlock()
			return h.ServeRPC(ctx, call)
		})
	})
	srv.RegisterHandler("inline.add", rpc.Inline(rpc.Unary(func(ctx context.Context, p [2]int) (int, error) { return p[0] + p[1], nil })))
	srv.RegisterHandler("inline.read", rpc.Inline(rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
		_, err := io.ReadAll(call)
		return nil, err
	})))
	srv.RegisterHandler("inline.panic", rpc.Inline(rpc.HandlerFunc(func(context.Context, *rpc.Request) (any, error) { panic("boom") })))
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)

	var sum int
	if err := c.Call(ctx, "inline.add", [2]int{2, 3}, &sum); err != nil || sum != 5 {
		t.Errorf("inline.add: %d, %v; want 5", sum, err)
	}
	s, err := c.Open(ctx, "inline.read", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(nil); !errors.Is(err, rpc.ErrFailedPrecondition) {
		t.Errorf("inline handler waiting for DATA: %v, want FailedPrecondition", err)
	}
	if err := c.Call(ctx, "inline.panic", nil, nil); !errors.Is(err, rpc.ErrInternal) {
		t.Errorf("inline handler that panics: %v, want Internal", err)
	}
	if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
		t.Errorf("sys.ping afterwards: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"inline.add", "inline.read", "inline.panic", "sys.ping"}, seen); diff != "" {
		t.Errorf("methods the middleware saw (-want +got):\n%s", diff)
	}
}

// TestInterruptedReceiveKeepsFrames: the property callers rely on, at
// the channel level: Receives cut short at random points by their ctx
// lose no frame of a stream of them.
func TestInterruptedReceiveKeepsFrames(t *testing.T) {
	a, z := testutil.SocketPair(t)
	send := channel.NewStream(tricklingConn{a, 50 * time.Microsecond}, channel.StreamOptions{})
	recvCh := channel.NewStream(z, channel.StreamOptions{})
	const frames = 20
	go func() {
		for i := range frames {
			f := wire.Frame{StreamID: uint32(i), Type: wire.TypeData, Payload: randBytes(uint64(i), 8<<10+i)}
			if send.Send(context.Background(), &f) != nil {
				return
			}
		}
	}()
	interrupted := 0
	for i := 0; i < frames; {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Microsecond)
		var f wire.Frame
		err := recvCh.Receive(ctx, &f)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			if interrupted++; interrupted > 100000 {
				t.Fatal("no progress")
			}
			continue
		}
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.StreamID != uint32(i) || !bytes.Equal(f.Payload, randBytes(uint64(i), 8<<10+i)) {
			t.Fatalf("frame %d: got stream %d with %d bytes, not the frame sent", i, f.StreamID, len(f.Payload))
		}
		i++
	}
	t.Logf("%d receives interrupted along the way", interrupted)
}

// TestRecycledCalls: calls that reuse the memory of earlier ones (an
// inline handler's Call on the agent, a unary call's Stream on the
// client) start clean: no result, error, arguments or deadline of the
// call before leaks into the next, and the allocation counts show the
// reuse happens.
func TestRecycledCalls(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	handler := rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
		var req struct {
			Result json.RawMessage
			Code   rpc.Code
		}
		if err := call.DecodeArgs(&req); err != nil {
			return nil, err
		}
		_, hasDeadline := ctx.Deadline()
		if req.Code != rpc.OK {
			return nil, rpc.Errorf(req.Code, "asked for %v (deadline %v)", req.Code, hasDeadline)
		}
		if hasDeadline {
			return map[string]any{"deadline": true, "args": string(call.Args)}, nil
		}
		if req.Result == nil {
			return nil, nil
		}
		return req.Result, nil
	})
	srv.RegisterHandler("inline", rpc.Inline(handler))
	srv.RegisterHandler("worker", handler)
	c := testutil.Pair(t, srv)
	type step struct {
		args    string
		timeout bool
		want    string // result JSON, "" for none
		wantErr rpc.Code
	}
	steps := []step{
		{args: `{"Result":{"a":1}}`, want: `{"a":1}`},
		{args: `{"Code":5}`, wantErr: rpc.NotFound},
		{args: `{}`, want: ""},
		{args: `{"Result":[1,2,3]}`, timeout: true, want: `{"args":"{\"Result\":[1,2,3]}","deadline":true}`},
		{args: `{"Result":"x"}`, want: `"x"`},
		{args: `{"Code":9}`, timeout: true, wantErr: rpc.FailedPrecondition},
		{args: `{}`, want: ""},
	}
	for _, method := range []string{"inline", "worker"} {
		for round := range 3 {
			for i, st := range steps {
				ctx := context.Background()
				if st.timeout {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, hang)
					defer cancel()
				}
				var got json.RawMessage
				err := c.Call(ctx, method, json.RawMessage(st.args), &got)
				if st.wantErr != rpc.OK {
					if rpc.CodeOf(err) != st.wantErr {
						t.Fatalf("%s round %d step %d: %v, want %v", method, round, i, err, st.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s round %d step %d: %v", method, round, i, err)
				}
				if string(got) != st.want {
					t.Fatalf("%s round %d step %d: result %s, want %s", method, round, i, got, st.want)
				}
			}
		}
	}
	// sys.ping reuses the Request on the agent and the Stream on the client:
	// the stream's done channel is all that is left to allocate.
	ctx := context.Background()
	if n := testing.AllocsPerRun(200, func() { _ = c.Call(ctx, "sys.ping", nil, nil) }); n > 1 {
		t.Errorf("sys.ping: %.1f allocations per call, want at most 1 with reuse", n)
	}
}
