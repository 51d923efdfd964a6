package vsock_test

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
	"github.com/guestrpc/guestrpc/vsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// agent returns a guest service that serves rpc on each connection until
// the test ends.
func agent(t *testing.T) fakevsock.Service {
	srv := rpc.NewServer(rpc.ServerOptions{Name: "fake-guest"})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return func(c net.Conn) { _ = srv.ServeChannel(ctx, channel.NewStream(c, channel.StreamOptions{})) }
}

func ping(t *testing.T, ch channel.Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	if c.PeerName() != "fake-guest" {
		t.Errorf("peer name %q, want fake-guest", c.PeerName())
	}
	if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
		t.Fatalf("sys.ping: %v", err)
	}
}

func TestDialHybrid(t *testing.T) {
	fc := fakevsock.NewHybrid(t)
	fc.Listen(vsock.DefaultPort, agent(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ch, err := vsock.DialHybrid(ctx, fc.Path, vsock.DefaultPort, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ping(t, ch)

	for _, tc := range []struct {
		name string
		uds  string
		port uint32
		want error
	}{
		{"no listener on the port", fc.Path, 4242, vsock.ErrRefused},
		{"no such socket", fc.Path + ".missing", vsock.DefaultPort, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vsock.DialHybrid(ctx, tc.uds, tc.port, channel.StreamOptions{})
			if err == nil {
				t.Fatal("dial succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDialHybridRejectsBadReply(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", dir+"/v.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	replies := []string{"NOPE\n", "OK x\n", string(make([]byte, 100))}
	go func() {
		for _, r := range replies {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64)
			c.Read(buf)
			c.Write([]byte(r))
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range replies {
		if _, err := vsock.DialHybrid(ctx, dir+"/v.sock", 1, channel.StreamOptions{}); err == nil {
			t.Errorf("reply %q accepted", r)
		}
	}
}

func TestListenHybrid(t *testing.T) {
	fc := fakevsock.NewHybrid(t)
	l, err := vsock.ListenHybrid(fc.Path, 9000, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, want := l.Addr().String(), fc.Path+"_9000"; got != want {
		t.Errorf("listening on %s, want %s", got, want)
	}
	serveGuestToHost(t, l, fc.GuestDial)
}

// serveGuestToHost: a host rpc server accepts on l; the guest dials in
// with dial and pings it.
func serveGuestToHost(t *testing.T, l channel.Listener, dial func(uint32) (net.Conn, error)) {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{Name: "fake-guest"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()
	c, err := dial(9000)
	if err != nil {
		t.Fatal(err)
	}
	ping(t, channel.NewStream(c, channel.StreamOptions{}))
}

func TestDialHyperkit(t *testing.T) {
	hk := fakevsock.NewHyperkit(t, 3)
	hk.Listen(vsock.DefaultPort, agent(t))
	hk.Forward(t, 6000, agent(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("connect socket", func(t *testing.T) {
		ch, err := vsock.DialHyperkit(ctx, hk.Dir, 3, vsock.DefaultPort, channel.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ping(t, ch)
	})
	t.Run("forwarded port", func(t *testing.T) {
		ch, err := vsock.DialHyperkit(ctx, hk.Dir, 3, 6000, channel.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ping(t, ch)
	})
	t.Run("wrong cid is dropped", func(t *testing.T) {
		ch, err := vsock.DialHyperkit(ctx, hk.Dir, 4, vsock.DefaultPort, channel.StreamOptions{})
		if err != nil {
			t.Fatal(err) // hyperkit accepts the request and then closes
		}
		if c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{}); err == nil {
			c.Close()
			t.Fatal("handshake with a nonexistent guest succeeded")
		}
	})
	t.Run("no state dir", func(t *testing.T) {
		if _, err := vsock.DialHyperkit(ctx, hk.Dir+"-missing", 3, 1, channel.StreamOptions{}); err == nil {
			t.Fatal("dial succeeded")
		}
	})
}

func TestListenHyperkit(t *testing.T) {
	hk := fakevsock.NewHyperkit(t, 3)
	l, err := vsock.ListenHyperkit(hk.Dir, 9000, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	serveGuestToHost(t, l, hk.GuestDial)
}

func TestHyperkitSocketName(t *testing.T) {
	if got, want := vsock.HyperkitSocket("/s", 3, 5100), "/s/00000003.000013ec"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got, want := vsock.HybridListenPath("/run/v.sock", 52), "/run/v.sock_52"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
