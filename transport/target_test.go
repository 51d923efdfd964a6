package transport_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want transport.Target
		err  error
	}{
		{"unix:/run/x.sock", transport.Target{Scheme: "unix", Address: "/run/x.sock"}, nil},
		{"unix:/run/x.sock,allow=sys.*;file.read,mode=0660,group=wheel", transport.Target{Scheme: "unix", Address: "/run/x.sock",
			Options: transport.Options{Allow: []string{"sys.*", "file.read"}, Mode: 0o660, Group: "wheel"}}, nil},
		{"tcp:127.0.0.1:5100,token-file=/etc/guestrpc/token,block=process.*;net.dial", transport.Target{Scheme: "tcp", Address: "127.0.0.1:5100",
			Options: transport.Options{TokenFile: "/etc/guestrpc/token", Block: []string{"process.*", "net.dial"}}}, nil},
		{"vsock:5100,cid=2;3", transport.Target{Scheme: "vsock", Address: "5100", Options: transport.Options{CIDs: []uint32{2, 3}}}, nil},
		{"unix:/s,uid=0;1000,gid=10", transport.Target{Scheme: "unix", Address: "/s", Options: transport.Options{UIDs: []uint32{0, 1000}, GIDs: []uint32{10}}}, nil},
		{"vsock:2:5100", transport.Target{Scheme: "vsock", Address: "2:5100"}, nil},
		{"", transport.Target{}, transport.ErrBadTarget},
		{"unix:", transport.Target{}, transport.ErrBadTarget},
		{"unix:,mode=0600", transport.Target{}, transport.ErrBadTarget},
		{"unix:/s,", transport.Target{}, transport.ErrOption},
		{"unix:/s,,mode=0600", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode=", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode=0", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode=1777", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode=0689", transport.Target{}, transport.ErrOption},
		{"unix:/s,mode=0600,mode=0660", transport.Target{}, transport.ErrOption},
		{"unix:/s,allow=file.[", transport.Target{}, transport.ErrOption},
		{"unix:/s,allow=sys.*;", transport.Target{}, transport.ErrOption},
		{"unix:/s,uid=-1", transport.Target{}, transport.ErrOption},
		{"unix:/s,uid=4294967296", transport.Target{}, transport.ErrOption},
		{"unix:/s,cid=root", transport.Target{}, transport.ErrOption},
		{"unix:/s,colour=blue", transport.Target{}, transport.ErrOption},
		{"unix:/s,allow=" + strings.Repeat("a;", 64) + "a", transport.Target{}, transport.ErrOption},
		{"unix:/" + strings.Repeat("x", 5000), transport.Target{}, transport.ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := transport.ParseTarget(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTarget (-want +got):\n%s", diff)
			}
			if err == nil {
				if back := got.String(); back != tt.in && !strings.Contains(tt.in, "block=") {
					t.Errorf("String() = %q, want %q", back, tt.in)
				}
			}
		})
	}
}

func TestTargetCheck(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"unix:/s,allow=a,block=b,uid=1,gid=2,mode=0600,group=g", true},
		{"tcp:127.0.0.1:1,allow=a,block=b,token-file=/t", true},
		{"vsock:5100,allow=a,block=b,cid=3", true},
		{"virtio:org.guestrpc.0,allow=a,block=b", true},
		{"unix:/s,cid=3", false},
		{"unix:/s,token-file=/t", false},
		{"tcp:127.0.0.1:1,mode=0600", false},
		{"tcp:127.0.0.1:1,uid=0", false},
		{"vsock:5100,uid=0", false},
		{"virtio:x,cid=2", false},
		{"sctp:1,allow=a", false},
	} {
		target, err := transport.ParseTarget(tt.in)
		if err != nil {
			t.Fatalf("ParseTarget(%q): %v", tt.in, err)
		}
		if err := target.Check(); (err == nil) != tt.ok || (err != nil && !errors.Is(err, transport.ErrOption)) {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// TestReverse plays a host that only accepts: the reverse listener dials
// it, one session at a time, and dials again when a session ends.
func TestReverse(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "host.sock")
	hl, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	var lc transport.ListenConfig
	l, err := lc.Reverse("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{Name: "reverse-agent"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	for i := range 3 {
		hl.(*net.UnixListener).SetDeadline(time.Now().Add(10 * time.Second))
		c, err := hl.Accept()
		if err != nil {
			t.Fatalf("session %d: accept: %v", i, err)
		}
		// One session at a time: no second connection while this one lives.
		hl.(*net.UnixListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
		if extra, err := hl.Accept(); err == nil {
			extra.Close()
			t.Fatalf("session %d: the agent dialed a second session while the first was open", i)
		}
		client, err := rpc.NewClient(ctx, channel.NewStream(c, channel.StreamOptions{}), rpc.ClientOptions{})
		if err != nil {
			t.Fatalf("session %d: handshake: %v", i, err)
		}
		if client.PeerName() != "reverse-agent" {
			t.Errorf("session %d: peer %q", i, client.PeerName())
		}
		if err := client.Call(ctx, "sys.ping", nil, nil); err != nil {
			t.Fatalf("session %d: sys.ping: %v", i, err)
		}
		client.Close()
	}
}
