package testutil

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// SocketPair returns the two ends of a connected unix socket; both are
// closed when the test ends.
func SocketPair(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	sock := filepath.Join(tb.TempDir(), "pair.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	z, err := net.Dial("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	a := <-accepted
	if a == nil {
		tb.Fatal("testutil: accept on the pair socket failed")
	}
	tb.Cleanup(func() { a.Close(); z.Close() })
	return a, z
}

// Pair serves srv on one end of a unix socket pair and returns a client
// on the other. Cleanup closes the client and waits for the server side
// to finish, so goroutine-leak checks see a quiet process.
func Pair(tb testing.TB, srv *rpc.Server) *rpc.Client {
	tb.Helper()
	return PairOver(tb, srv, func(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) },
		func(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) })
}

// PairOver is Pair with the channel on each end made by the caller from
// its end of the socket pair, to wrap a side's connection or channel.
func PairOver(tb testing.TB, srv *rpc.Server, serverSide, clientSide func(net.Conn) channel.Channel) *rpc.Client {
	tb.Helper()
	a, z := SocketPair(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, serverSide(a))
	}()
	c, err := rpc.NewClient(ctx, clientSide(z), rpc.ClientOptions{})
	if err != nil {
		cancel()
		<-done
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}
