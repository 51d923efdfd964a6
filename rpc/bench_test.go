package rpc_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"

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

// BenchmarkRawPingPong is the floor: 16 bytes each way on a unix socket
// between two goroutines, no framing or dispatch.
func BenchmarkRawPingPong(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "raw")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
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
	a, z := socketPair(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	c, err := rpc.NewClient(ctx, channel.NewStream(z, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
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
