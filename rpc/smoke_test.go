package rpc_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "s")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()
	ch, err := channel.DialUnix(ctx, sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	var info rpc.Info
	if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", info)
	_ = net.ErrClosed
	c.Close()
	srv.Shutdown(ctx)
	t.Log(<-done)
}
