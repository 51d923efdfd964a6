package transport_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevsock"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Only targets that never reach AF_VSOCK are dialed here: the bad ones
// fail while parsing.
func TestBadTargets(t *testing.T) {
	ctx := context.Background()
	for _, target := range []string{
		"", "unix", "unix:", "nosuch:x", "vsock:3", "vsock:x:5100", "vsock:3:70000000000",
		"hybrid:/x", "hybrid:/x:port", "hyperkit:/d:3", "hyperkit:/d:x:1", "hyperkit:5100",
	} {
		if _, err := transport.Dial(ctx, target, channel.StreamOptions{}); !errors.Is(err, channel.ErrBadTarget) {
			t.Errorf("Dial(%q) = %v, want ErrBadTarget", target, err)
		}
	}
	for _, spec := range []string{"", "vsock:", "vsock:x", "sctp:1", "virtio:"} {
		if _, err := transport.Listen(ctx, spec, channel.StreamOptions{}); !errors.Is(err, channel.ErrBadTarget) {
			t.Errorf("Listen(%q) = %v, want ErrBadTarget", spec, err)
		}
	}
	for _, spec := range []string{"virtio:x", "vsock:2", "hybrid:/x:1"} {
		if _, err := transport.DialAgent(spec, channel.StreamOptions{}); !errors.Is(err, channel.ErrBadTarget) {
			t.Errorf("DialAgent(%q) = %v, want ErrBadTarget", spec, err)
		}
	}
}

func TestDialEverySocketTransport(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	serve := func(c net.Conn) { _ = srv.ServeChannel(ctx, channel.NewStream(c, channel.StreamOptions{})) }

	hy := fakevsock.NewHybrid(t)
	hy.Listen(5100, serve)
	hk := fakevsock.NewHyperkit(t, 3)
	hk.Listen(5100, serve)
	sock := t.TempDir() + "/agent.sock"
	l, err := transport.Listen(ctx, "unix:"+sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, target := range []string{
		"unix:" + sock,
		"hybrid:" + hy.Path + ":5100",
		"hyperkit:" + hk.Dir + ":3:5100",
	} {
		ch, err := transport.Dial(ctx, target, channel.StreamOptions{})
		if err != nil {
			t.Fatalf("Dial(%q): %v", target, err)
		}
		c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
		if err != nil {
			t.Fatalf("%s: handshake: %v", target, err)
		}
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Errorf("%s: sys.ping: %v", target, err)
		}
		c.Close()
	}
}
