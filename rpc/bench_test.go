package rpc_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// BenchmarkPing measures a sys.ping call over a unix socket: the figure
// to hold beside BenchmarkRawPingPong.
func BenchmarkPing(b *testing.B) {
	c := newUnixPair(b, rpc.NewServer(rpc.ServerOptions{}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingCancelableCtx is BenchmarkPing with a ctx that can end,
// as a program's usually can: reading its reply, the call arranges for
// the ctx to interrupt the read (channel.Stream's watch), which costs
// allocations and time per call that BenchmarkPing does not show.
func BenchmarkPingCancelableCtx(b *testing.B) {
	c := newUnixPair(b, rpc.NewServer(rpc.ServerOptions{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCall is BenchmarkPing with a handler that is not Inline: the
// call is handed to a worker goroutine, as calls that run commands or
// touch files are.
func BenchmarkCall(b *testing.B) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("noop", func(context.Context, *rpc.Request) (any, error) { return nil, nil })
	c := newUnixPair(b, srv)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(ctx, "noop", nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingVsRaw runs sys.ping calls and raw 16-byte ping-pongs in
// alternating blocks and reports the median of the blocks' ratios
// (x-raw) beside both latencies. Measured side by side, the ratio holds
// steady on a machine whose speed drifts between two separate
// benchmarks.
func BenchmarkPingVsRaw(b *testing.B) {
	c := newUnixPair(b, rpc.NewServer(rpc.ServerOptions{}))
	raw, stop := rawEcho(b)
	defer stop()
	ctx := context.Background()
	buf := make([]byte, 16)
	const block = 200
	var ratios []float64
	var inRPC, inRaw time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		start := time.Now()
		for range block {
			if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range block {
			if _, err := raw.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(raw, buf); err != nil {
				b.Fatal(err)
			}
		}
		end := time.Now()
		inRPC += mid.Sub(start)
		inRaw += end.Sub(mid)
		ratios = append(ratios, float64(mid.Sub(start))/float64(end.Sub(mid)))
	}
	b.StopTimer()
	slices.Sort(ratios)
	n := float64(len(ratios) * block)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(inRPC.Nanoseconds())/n, "ping-ns/op")
	b.ReportMetric(float64(inRaw.Nanoseconds())/n, "raw-ns/op")
	b.ReportMetric(ratios[len(ratios)/2], "x-raw")
}

// rawEcho returns the client end of a unix socket whose other end echoes
// 16-byte messages.
func rawEcho(tb testing.TB) (net.Conn, func()) {
	a, z := socketPair(tb)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(a, buf); err != nil {
				return
			}
			if _, err := a.Write(buf); err != nil {
				return
			}
		}
	}()
	return z, func() { z.Close(); <-done; a.Close() }
}

// BenchmarkRawPingPong is the floor: 16 bytes each way on a unix socket
// between two goroutines, no framing or dispatch.
func BenchmarkRawPingPong(b *testing.B) {
	c, stop := rawEcho(b)
	defer stop()
	buf := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatch counts the server's cost per call: raw OPEN frames
// go in over a socket pair and STATUS frames come out, so the client
// library's allocations are not in the figure.
func BenchmarkDispatch(b *testing.B) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	a, z := socketPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	defer func() { cancel(); z.Close(); <-done }()

	enc, dec := wire.NewEncoder(z), wire.NewDecoder(z, 0)
	hello := wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: wire.Version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow})}
	if err := enc.Encode(&hello); err != nil {
		b.Fatal(err)
	}
	var in wire.Frame
	if err := dec.Decode(&in); err != nil || in.Type != wire.TypeHello {
		b.Fatalf("handshake: %v %v", in.Type, err)
	}
	open := wire.Frame{Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: wire.AppendOpen(nil, 0, "sys.ping", nil)}
	id := uint32(1)
	b.ReportAllocs()
	for b.Loop() {
		open.StreamID = id
		id += 2
		if err := enc.Encode(&open); err != nil {
			b.Fatal(err)
		}
		if err := dec.Decode(&in); err != nil || in.Type != wire.TypeStatus {
			b.Fatalf("reply: %v %v", in.Type, err)
		}
	}
}

func socketPair(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	sock := filepath.Join(tb.TempDir(), "pair")
	l, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		acc <- c
	}()
	z, err := net.Dial("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	a := <-acc
	if a == nil {
		tb.Fatal("accept failed")
	}
	return a, z
}

// newUnixPair serves srv on one end of a unix socket pair and returns a
// client on the other; both are torn down when the test ends.
func newUnixPair(tb testing.TB, srv *rpc.Server) *rpc.Client {
	tb.Helper()
	return newUnixPairOver(tb, srv, func(ch channel.Channel) channel.Channel { return ch })
}

// BenchmarkWirePing measures Client.Ping: a PING frame answered with PONG
// by the peer's connection, no dispatch.
func BenchmarkWirePing(b *testing.B) {
	c := newUnixPair(b, rpc.NewServer(rpc.ServerOptions{}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
