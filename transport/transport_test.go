package transport_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/google/go-cmp/cmp"
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
		if _, err := transport.DialChannel(ctx, target, channel.StreamOptions{}); !errors.Is(err, transport.ErrBadTarget) {
			t.Errorf("DialChannel(%q) = %v, want ErrBadTarget", target, err)
		}
		if _, err := transport.Dial(ctx, target, rpc.ClientOptions{}); !errors.Is(err, transport.ErrBadTarget) {
			t.Errorf("Dial(%q) = %v, want ErrBadTarget", target, err)
		}
	}
	for _, spec := range []string{"", "vsock:", "vsock:x", "sctp:1", "virtio:"} {
		if _, err := transport.Listen(ctx, spec); !errors.Is(err, transport.ErrBadTarget) {
			t.Errorf("Listen(%q) = %v, want ErrBadTarget", spec, err)
		}
	}
	var lc transport.ListenConfig
	for _, spec := range []string{"virtio:x", "vsock:2", "hybrid:/x:1"} {
		if _, err := lc.Reverse(spec); !errors.Is(err, transport.ErrBadTarget) {
			t.Errorf("Reverse(%q) = %v, want ErrBadTarget", spec, err)
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
	l, err := transport.Listen(ctx, "unix:"+sock)
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
		c, err := transport.Dial(ctx, target, rpc.ClientOptions{})
		if err != nil {
			t.Fatalf("Dial(%q): %v", target, err)
		}
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Errorf("%s: sys.ping: %v", target, err)
		}
		c.Close()
	}
}

func TestTargetErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.sock")
	tests := []struct {
		target      string
		listenErr   error // nil: any non-nil error
		dialErr     error
		listenFails bool
	}{
		{"", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"unix", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"unix:", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"tcp:", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{":/tmp/x", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"ftp:host", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"UNIX:/tmp/x", transport.ErrBadTarget, transport.ErrBadTarget, true},
		{"virtio:" + missing, nil, os.ErrNotExist, true},
		{"unix:" + missing, nil, os.ErrNotExist, false},
		{"tcp:no.such.host.invalid:1", nil, nil, true},
		{"tcp:127.0.0.1:notaport", nil, nil, true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			if c, err := transport.DialChannel(ctx, tt.target, channel.StreamOptions{}); err == nil {
				c.Close()
				t.Errorf("Dial(%q) succeeded", tt.target)
			} else if tt.dialErr != nil && !errors.Is(err, tt.dialErr) {
				t.Errorf("Dial(%q): %v, want %v", tt.target, err, tt.dialErr)
			}
			l, err := transport.Listen(ctx, tt.target)
			if err == nil {
				l.Close()
				if tt.listenFails {
					t.Errorf("Listen(%q) succeeded", tt.target)
				}
				return
			}
			if !tt.listenFails {
				t.Errorf("Listen(%q): %v", tt.target, err)
			} else if tt.listenErr != nil && !errors.Is(err, tt.listenErr) {
				t.Errorf("Listen(%q): %v, want %v", tt.target, err, tt.listenErr)
			}
		})
	}
}

// TestDialErrors: Dial says which target it could not reach and why.
func TestDialErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nobody.sock")
	tests := []struct {
		target  string
		wantBad bool // transport.ErrBadTarget
	}{
		{"agent.sock", true},
		{"ftp:host", true},
		{"vsock:nine:5100", true},
		{"unix:" + missing, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			c, err := transport.Dial(context.Background(), tt.target, rpc.ClientOptions{})
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if got := errors.Is(err, transport.ErrBadTarget); got != tt.wantBad {
				t.Errorf("Dial: %v; errors.Is(ErrBadTarget) = %v, want %v", err, got, tt.wantBad)
			}
			if !tt.wantBad && !strings.Contains(err.Error(), missing) {
				t.Errorf("Dial: %v does not name the socket", err)
			}
		})
	}
}

// TestListenPolicy: a target's policy options, or a ListenConfig's base
// policy, decide what its peers may call; a target with neither is
// served under the server's own policy.
func TestListenPolicy(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		lc   transport.ListenConfig
		opts string
		want map[string]rpc.Code
	}{
		{"the server's policy", transport.ListenConfig{}, "",
			map[string]rpc.Code{"sys.ping": rpc.OK, "other.method": rpc.PermissionDenied}},
		{"the target's allow=", transport.ListenConfig{}, ",allow=other.*",
			map[string]rpc.Code{"sys.ping": rpc.PermissionDenied, "other.method": rpc.OK}},
		{"the ListenConfig's base policy", transport.ListenConfig{Policy: rpc.Policy{Block: []string{"sys.ping"}}}, "",
			map[string]rpc.Code{"sys.ping": rpc.PermissionDenied, "other.method": rpc.OK}},
		{"block= adds to the base", transport.ListenConfig{Policy: rpc.Policy{Block: []string{"sys.ping"}}}, ",block=other.*",
			map[string]rpc.Code{"sys.ping": rpc.PermissionDenied, "other.method": rpc.PermissionDenied}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{Policy: rpc.Policy{Allow: []string{"sys.*"}}})
			srv.HandleFunc("other.method", func(context.Context, *rpc.Request) (any, error) { return nil, nil })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sock := filepath.Join(dir, strconv.Itoa(i)+".sock")
			l, err := tt.lc.Listen(ctx, "unix:"+sock+tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ctx, l) }()
			defer func() { cancel(); <-done }()
			c, err := transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := map[string]rpc.Code{}
			for m := range tt.want {
				got[m] = rpc.CodeOf(c.Call(ctx, m, nil, nil))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("call outcomes (-want +got):\n%s", diff)
			}
		})
	}
}
