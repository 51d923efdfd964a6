package rpc_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// heapLive returns the bytes of live heap objects after two full
// collections (the second empties sync.Pool's victim cache).
func heapLive() int64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// stallServer returns a server whose "stall" method holds its call,
// reading nothing, until the call is canceled; started receives once per
// call.
func stallServer(opts rpc.ServerOptions) (*rpc.Server, chan struct{}) {
	started := make(chan struct{}, 1024)
	srv := rpc.NewServer(opts)
	srv.HandleFunc("stall", func(ctx context.Context, call *rpc.Request) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	return srv, started
}

// dataFrames encodes n DATA frames of size bytes each on stream id,
// cycling through lanes.
func dataFrames(id uint32, n, size, lanes int) []byte {
	var b []byte
	payload := make([]byte, size)
	for i := range n {
		b = wire.AppendFrame(b, &wire.Frame{StreamID: id, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(uint8(i % lanes)), Payload: payload})
	}
	return b
}

// TestSmallDataFramesPinWhatTheySent: one-byte DATA frames to a call
// that does not read (process.start without stdin, say) cost the agent
// about what was sent, not a receive buffer per frame. Each case's
// frames fit the window, so nothing is reset and all of it is held.
func TestSmallDataFramesPinWhatTheySent(t *testing.T) {
	tests := []struct {
		name         string
		frames, size int
		lanes        int
	}{
		{"2000 one-byte frames on lane 0", 2000, 1, 1},
		{"2000 one-byte frames over 16 lanes", 2000, 1, 16},
		{"the whole window in 100-byte frames", rpc.DefaultWindow / 100, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, started := stallServer(rpc.ServerOptions{})
			p := newRawPeer(t, srv, true)
			p.open(1, 0, 0, "stall", "")
			recv(t, "the handler to start", started)
			p.ping(1)
			base := heapLive()
			if _, err := p.conn.Write(dataFrames(1, tt.frames, tt.size, tt.lanes)); err != nil {
				t.Fatal(err)
			}
			p.ping(2) // the read loop has handled every DATA frame
			sent := int64(tt.frames * tt.size)
			// What a stream may pin: what was sent, plus the unused
			// tail of one 16 KiB chunk per lane, plus slack for the
			// lanes' queues.
			limit := sent + int64(tt.lanes)*16<<10 + 64<<10
			if grown := heapLive() - base; grown > limit {
				t.Errorf("the agent's heap grew by %d bytes for %d bytes of DATA in %d frames; want at most %d", grown, sent, tt.frames, limit)
			}
		})
	}
}

// TestMemoryBudgetAcrossConnections: peers that fill the windows of many
// stalled calls on several connections make the agent hold no more than
// its MemoryBudget; the calls past it are reset with ResourceExhausted,
// and the budget comes back when the calls end.
func TestMemoryBudgetAcrossConnections(t *testing.T) {
	const budget = 4 << 20
	srv, started := stallServer(rpc.ServerOptions{MemoryBudget: budget})
	base := heapLive()
	const conns, callsPerConn = 4, 8 // 32 windows of 256 KiB: 8 MiB offered
	peers := make([]*rawPeer, conns)
	resets := 0
	for i := range peers {
		p := newRawPeer(t, srv, true)
		peers[i] = p
		for j := range callsPerConn {
			id := uint32(2*j + 1)
			p.open(id, 0, 0, "stall", "")
			recv(t, "a handler to start", started)
			if _, err := p.conn.Write(dataFrames(id, rpc.DefaultWindow/(16<<10), 16<<10, 1)); err != nil {
				t.Fatal(err)
			}
		}
		// Each reset stream gets a CANCEL; count them until the PONG.
		p.send(wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, 7)})
		for f := p.next(); f.Type != wire.TypePong; f = p.next() {
			if f.Type == wire.TypeCancel {
				resets++
			}
		}
	}
	const constant = 1 << 20 // connections, calls, goroutines
	if grown := heapLive() - base; grown > budget+constant {
		t.Errorf("heap grew by %d bytes; the budget is %d (+%d for bookkeeping)", grown, budget, constant)
	}
	if want := conns*callsPerConn - budget/rpc.DefaultWindow; resets < want {
		t.Errorf("%d streams were reset, want at least %d: the budget did not hold", resets, want)
	}
	// Ending the calls gives their memory back to the budget: a new call
	// on a fresh connection can fill its window.
	for _, p := range peers {
		for j := range callsPerConn {
			p.send(wire.Frame{StreamID: uint32(2*j + 1), Type: wire.TypeCancel})
		}
		p.ping(8)
	}
	c := testutil.Pair(t, srv)
	ctx := testCtx(t)
	waitFor(t, "the canceled calls to give their memory back", func() bool {
		return rpc.BudgetInUse(srv) == 0
	})
	s, err := c.Open(ctx, "stall", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(make([]byte, rpc.DefaultWindow)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window's DATA to be charged", func() bool { return rpc.BudgetInUse(srv) >= rpc.DefaultWindow })
	s.Close()
}

// TestArgumentsBudget: large OPEN arguments are charged to the budget
// while their call runs.
func TestArgumentsBudget(t *testing.T) {
	srv, started := stallServer(rpc.ServerOptions{MemoryBudget: 1 << 20})
	p := newRawPeer(t, srv, true)
	args := `"` + strings.Repeat("a", 600<<10) + `"`
	p.open(1, wire.FlagFin, 0, "stall", args)
	recv(t, "the first call to start", started)
	p.open(3, wire.FlagFin, 0, "stall", args)
	st := p.expectStatus()
	if st.Stream != 3 || st.Code != rpc.ResourceExhausted || !strings.Contains(st.Message, "memory budget") {
		t.Errorf("second 600 KiB OPEN: %+v, want ResourceExhausted naming the memory budget", st)
	}
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeCancel})
	waitFor(t, "the first call's arguments to be released", func() bool { return rpc.BudgetInUse(srv) == 0 })
	p.open(5, wire.FlagFin, 0, "stall", args)
	recv(t, "a call after the budget came back", started)
}

// TestMaxConnsAndCalls: connections and calls past the server's limits
// are refused with ResourceExhausted, and admitted again once others end.
func TestMaxConnsAndCalls(t *testing.T) {
	srv, started := stallServer(rpc.ServerOptions{MaxConns: 2, MaxCalls: 3})
	ctx := testCtx(t)
	a := testutil.Pair(t, srv)
	b := testutil.Pair(t, srv)
	if _, err := rpc.NewClient(ctx, serveOne(t, srv), rpc.ClientOptions{}); !errors.Is(err, rpc.ErrResourceExhausted) || !strings.Contains(err.Error(), "2 connections") {
		t.Errorf("third connection: %v, want ResourceExhausted naming the limit", err)
	}
	var streams []*rpc.Stream
	for _, c := range []*rpc.Client{a, a, b} {
		s, err := c.Open(ctx, "stall", nil)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
		recv(t, "a call to start", started)
	}
	err := b.Call(ctx, "sys.ping", nil, nil)
	if !errors.Is(err, rpc.ErrResourceExhausted) || !strings.Contains(err.Error(), "3 calls in flight") {
		t.Errorf("fourth call: %v, want ResourceExhausted naming the limit", err)
	}
	streams[0].Close()
	waitFor(t, "a call slot to free up", func() bool { return b.Call(ctx, "sys.ping", nil, nil) == nil })
	a.Close()
	waitFor(t, "a connection slot to free up", func() bool {
		c, err := rpc.NewClient(ctx, serveOne(t, srv), rpc.ClientOptions{})
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// serveOne serves one end of a fresh socket pair with srv and returns the
// other end's channel; the serving goroutine ends with the test.
func serveOne(t *testing.T, srv *rpc.Server) channel.Channel {
	a, z := testutil.SocketPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(context.Background(), channel.NewStream(a, channel.StreamOptions{}))
	}()
	t.Cleanup(func() { a.Close(); z.Close(); <-done })
	return channel.NewStream(z, channel.StreamOptions{})
}

// TestIdleTimeout: a connection with no call and no complete frame is
// closed after IdleTimeout — also one that trickles part of a frame —
// while a connection with a call in flight, or a virtio-console session,
// is not.
func TestIdleTimeout(t *testing.T) {
	const idle = 20 * time.Millisecond
	t.Run("silent", func(t *testing.T) {
		p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{IdleTimeout: idle}), true)
		if err := p.expectClosed(); !errors.Is(err, rpc.ErrIdle) {
			t.Errorf("ServeChannel: %v, want ErrIdle", err)
		}
	})
	t.Run("part of a frame", func(t *testing.T) {
		// The part must arrive before the timeout for the test to show
		// anything; on a machine slow enough that it did not, it tries
		// again with a longer one.
		for _, timeout := range []time.Duration{idle, 10 * idle, 100 * idle} {
			p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{IdleTimeout: timeout}), true)
			hdr := wire.AppendHeader(nil, 1, wire.TypeData, 0, 1<<20-1)
			if _, err := p.conn.Write(append(hdr, "some of it"...)); err != nil {
				t.Logf("idle timeout %v ran out before part of a frame was sent (%v); trying a longer one", timeout, err)
				continue
			}
			if err := p.expectClosed(); !errors.Is(err, rpc.ErrIdle) {
				t.Errorf("ServeChannel: %v, want ErrIdle", err)
			}
			return
		}
		t.Fatal("part of a frame could not be sent before the longest idle timeout")
	})
	t.Run("call in flight", func(t *testing.T) {
		release := make(chan struct{})
		srv := rpc.NewServer(rpc.ServerOptions{IdleTimeout: idle})
		srv.HandleFunc("wait", func(ctx context.Context, call *rpc.Request) (any, error) {
			<-release
			return "done", nil
		})
		c := testutil.Pair(t, srv)
		go func() { time.Sleep(10 * idle); close(release) }()
		var got string
		if err := c.Call(testCtx(t), "wait", nil, &got); err != nil || got != "done" {
			t.Errorf("a call outlasting the idle timeout: %q, %v", got, err)
		}
	})
	for _, transport := range []string{channel.TransportVirtio, channel.TransportVMware} {
		t.Run(transport+" exempt", func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{IdleTimeout: idle})
			c := testutil.PairOver(t, srv, func(c net.Conn) channel.Channel {
				return peerChannel{channel.NewStream(c, channel.StreamOptions{}), channel.PeerInfo{Transport: transport}}
			}, func(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) })
			time.Sleep(10 * idle)
			if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
				t.Errorf("%s session after 10 idle timeouts: %v", transport, err)
			}
		})
	}
}

// TestPartialLargeFrames: peers that announce large frames and send a
// little of each make the agent hold what they sent, not what they
// announced, and the memory goes when they do.
func TestPartialLargeFrames(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	base := heapLive()
	const conns = 16
	peers := make([]*rawPeer, conns)
	for i := range peers {
		p := newRawPeer(t, srv, true)
		peers[i] = p
		hdr := wire.AppendHeader(nil, 1, wire.TypeData, 0, wire.DefaultMaxPayload-1)
		if _, err := p.conn.Write(append(hdr, make([]byte, 100<<10)...)); err != nil {
			t.Fatal(err)
		}
	}
	// Each connection: a 64 KiB read buffer, the 100 KiB received
	// rounded up to the 128 KiB first step, goroutines and tables.
	waitFor(t, "the agent to read what was sent", func() bool { return heapLive()-base > conns*100<<10 })
	const perConn = 64<<10 + 128<<10 + 32<<10
	if grown := heapLive() - base; grown > conns*perConn {
		t.Errorf("%d connections each 100 KiB into a 1 MiB frame: heap grew by %d bytes, want at most %d", conns, grown, conns*perConn)
	}
	for _, p := range peers {
		p.conn.Close()
		recv(t, "the connection to end", p.served)
	}
	if grown := heapLive() - base; grown > 256<<10 {
		t.Errorf("after the peers left the heap is still %d bytes above where it was", grown)
	}
}

// TestHostileAgentSmallFrames: the host survives a hostile guest. An
// agent that sends thousands of one-byte DATA frames on a lane the host
// never reads costs the host client what was sent, not a buffer per
// frame.
func TestHostileAgentSmallFrames(t *testing.T) {
	a, z := testutil.SocketPair(t)
	_ = z.SetDeadline(time.Now().Add(hang))
	enc, dec := wire.NewEncoder(z), wire.NewDecoder(z, 0)
	if err := enc.Encode(&wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow})}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	c, err := rpc.NewClient(ctx, channel.NewStream(a, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f wire.Frame
	if err := dec.Decode(&f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("client HELLO: %v, %v", &f, err)
	}
	s, err := c.Open(ctx, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := dec.Decode(&f); err != nil || f.Type != wire.TypeOpen {
		t.Fatalf("client OPEN: %v, %v", &f, err)
	}
	base := heapLive()
	const frames = 4000
	if _, err := z.Write(dataFrames(f.StreamID, frames, 1, 1)); err != nil {
		t.Fatal(err)
	}
	// The client answers a PING after it has handled every DATA frame.
	if err := enc.Encode(&wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, 1)}); err != nil {
		t.Fatal(err)
	}
	for f.Type != wire.TypePong {
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
	}
	if grown, limit := heapLive()-base, int64(frames+64<<10); grown > limit {
		t.Errorf("the client's heap grew by %d bytes for %d one-byte frames; want at most %d", grown, frames, limit)
	}
}

// TestSilentConnectionPastMaxConns: a connection past MaxConns is
// refused without waiting the handshake's 30 s for a HELLO its peer may
// never send, so silent connections cannot pile up.
func TestSilentConnectionPastMaxConns(t *testing.T) {
	srv, _ := stallServer(rpc.ServerOptions{MaxConns: 1})
	testutil.Pair(t, srv) // the one connection the agent serves
	a, z := testutil.SocketPair(t)
	served := make(chan error, 1)
	go func() {
		served <- srv.ServeChannel(context.Background(), channel.NewStream(a, channel.StreamOptions{}))
	}()
	_ = z.SetDeadline(time.Now().Add(hang))
	var f wire.Frame
	if err := wire.NewDecoder(z, 0).Decode(&f); err != nil {
		t.Fatalf("waiting for the refusal: %v", err)
	}
	st, err := wire.ParseStatus(f.Payload)
	if f.Type != wire.TypeStatus || f.StreamID != 0 || err != nil || rpc.Code(st.Code) != rpc.ResourceExhausted {
		t.Errorf("got %v (%+v, %v), want a ResourceExhausted STATUS on stream 0", &f, st, err)
	}
	if err := recv(t, "ServeChannel to return", served); !errors.Is(err, rpc.ErrResourceExhausted) {
		t.Errorf("ServeChannel: %v, want ResourceExhausted", err)
	}
}

// TestStalledPeer: a peer that sends calls but reads nothing leaves the
// agent's writes blocked; the idle check closes its connection instead
// of holding it, and the goroutine blocked in the write, for ever.
func TestStalledPeer(t *testing.T) {
	const idle = 20 * time.Millisecond
	p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{IdleTimeout: idle}), true)
	go func() {
		// sys.ping calls until the socket takes no more; each answer
		// is a STATUS the peer never reads.
		for id := uint32(1); ; id += 2 {
			f := wire.Frame{StreamID: id, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: wire.AppendOpen(nil, 0, "sys.ping", nil)}
			if err := p.enc.Encode(&f); err != nil {
				return
			}
		}
	}()
	recv(t, "ServeChannel to return", p.served)
	if !errors.Is(p.err, rpc.ErrIdle) {
		t.Errorf("ServeChannel: %v, want ErrIdle", p.err)
	}
}
