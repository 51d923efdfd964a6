//go:build linux || darwin || freebsd

package channel_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/internal/testutil"
)

// acceptOne dials l over network and returns the accepted server side.
func acceptOne(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStreamPeerInfo(t *testing.T) {
	me := channel.PeerInfo{Transport: channel.TransportUnix, HasCred: true, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
	if runtime.GOOS != "linux" {
		me.PID = 0 // LOCAL_PEERCRED reports no pid
	}
	tcp := channel.PeerInfo{Transport: channel.TransportTCP}
	tests := []struct {
		name string
		conn func(t *testing.T) io.ReadWriteCloser
		wrap func(*channel.Stream) channel.Channel
		want channel.PeerInfo
	}{
		{"unix socket: the kernel's credentials", func(t *testing.T) io.ReadWriteCloser {
			a, _ := testutil.SocketPair(t)
			return a
		}, nil, me},
		{"tcp", func(t *testing.T) io.ReadWriteCloser { return acceptOne(t, listenTCP(t)) }, nil, tcp},
		{"tls over tcp is still tcp", func(t *testing.T) io.ReadWriteCloser {
			return tls.Server(acceptOne(t, listenTCP(t)), &tls.Config{})
		}, nil, tcp},
		{"a pipe the program made", func(t *testing.T) io.ReadWriteCloser {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return a
		}, nil, channel.PeerInfo{}},
		{"a conn that says who its peer is", func(t *testing.T) io.ReadWriteCloser {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return vsockConn{a}
		}, nil, channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: 7}},
		{"tracing keeps the peer", func(t *testing.T) io.ReadWriteCloser { return acceptOne(t, listenTCP(t)) },
			func(s *channel.Stream) channel.Channel { return channel.Trace(s, slog.New(slog.DiscardHandler)) }, tcp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := channel.NewStream(tt.conn(t), channel.StreamOptions{})
			var ch channel.Channel = s
			if tt.wrap != nil {
				ch = tt.wrap(s)
			}
			if diff := cmp.Diff(tt.want, channel.PeerOf(ch)); diff != "" {
				t.Errorf("PeerOf (-want +got):\n%s", diff)
			}
		})
	}
}

type vsockConn struct{ net.Conn }

func (vsockConn) PeerInfo() channel.PeerInfo {
	return channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: 7}
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		testenv.Missing(t, "TCP loopback: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestListenUnixMode checks the socket's permissions do not depend on
// the umask: the test clears it, as a careless service manager might.
func TestListenUnixMode(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	gid := os.Getgid()
	tests := []struct {
		name     string
		opts     channel.UnixOptions
		wantMode os.FileMode
		wantGID  int
	}{
		{"default is owner only", channel.UnixOptions{}, 0o600, gid},
		{"mode 0660 with a group by number", channel.UnixOptions{Mode: 0o660, Group: strconv.Itoa(gid)}, 0o660, gid},
		{"mode 0666 on request", channel.UnixOptions{Mode: 0o666}, 0o666, gid},
	}
	if os.Getuid() == 0 {
		// Only root may give a file a group it is not in.
		tests = append(tests, struct {
			name     string
			opts     channel.UnixOptions
			wantMode os.FileMode
			wantGID  int
		}{"another group", channel.UnixOptions{Mode: 0o660, Group: "65534"}, 0o660, 65534})
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s"+strconv.Itoa(i)+".sock")
			l, err := channel.ListenUnixWith(path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				l.Close()
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			got := struct {
				Mode os.FileMode
				GID  int
			}{fi.Mode().Perm(), int(st.Gid)}
			want := struct {
				Mode os.FileMode
				GID  int
			}{tt.wantMode, tt.wantGID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("socket file (-want +got):\n%s", diff)
			}
			if fi.Mode()&os.ModeSocket == 0 {
				t.Errorf("%s is %v, not a socket", path, fi.Mode())
			}
			if diff := cmp.Diff(path, l.Addr().String()); diff != "" {
				t.Errorf("Addr (-want +got):\n%s", diff)
			}
			exchange(t, l, path)
			l.Close()
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("socket left behind after Close: %v", err)
			}
			left, _ := os.ReadDir(filepath.Dir(path))
			if len(left) != 0 {
				t.Errorf("files left beside the socket: %v", left)
			}
		})
	}
	t.Run("bad mode and unknown group", func(t *testing.T) {
		dir := t.TempDir()
		for _, o := range []channel.UnixOptions{{Mode: os.ModeSetuid | 0o600}, {Group: "no-such-group-guestrpc"}} {
			if l, err := channel.ListenUnixWith(filepath.Join(dir, "x.sock"), o); err == nil {
				l.Close()
				t.Errorf("ListenUnixWith(%+v) succeeded", o)
			}
		}
	})
}
