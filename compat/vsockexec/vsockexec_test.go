package vsockexec_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/compat/vsockexec"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in        string
		cid, port uint32
	}{
		{"", 2, 1024},
		{"1:2049", 1, 2049},
		{"-1:", vsockexec.CIDAny, 1024},
		{":1025", 2, 1025},
		{"foo:bar", 2, 1024},
		{"3:5000", 2, 5000},
		{"0", 0, 1024},
		{"2:65535", 2, 65535},
		{"2:65536", 2, 1024},
		{"2:-1", 2, 1024},
		{"12x:7", 2, 7},
	}
	for _, tc := range tests {
		cid, port := vsockexec.ParseAddr(tc.in)
		if cid != tc.cid || port != tc.port {
			t.Errorf("ParseAddr(%q) = %d:%d, want %d:%d", tc.in, cid, port, tc.cid, tc.port)
		}
	}
}

// guest runs the guest side against a host listener on a unix socket and
// returns the host's end and what Run returns.
type guest struct {
	host   *vsockexec.Conn
	raw    net.Conn
	out    *testutil.LockedBuffer
	result chan error
}

func startGuest(t *testing.T, persistent bool, policy rpc.Policy) *guest {
	t.Helper()
	a, err := agent.New(agent.Config{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()); _ = a.Close() })
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "host.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	g := &guest{out: &testutil.LockedBuffer{}, result: make(chan error, 1)}
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		g.result <- vsockexec.Run(context.Background(), c, vsockexec.Options{Server: a.Server, Persistent: persistent, Output: g.out})
	}()
	g.raw, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	g.host = vsockexec.NewConn(g.raw)
	t.Cleanup(func() { g.host.Close() })
	return g
}

// sized is a command of exactly n bytes that prints tag.
func sized(tag string, n int) string {
	cmd := "echo " + tag + "; : "
	return cmd + strings.Repeat("a", n-len(cmd))
}

func TestDisposable(t *testing.T) {
	tests := []struct {
		name string
		send string // written raw, in one write
		want string
	}{
		{"empty: the host closes at once", "", ""},
		{"2047 bytes", sized("d2047", 2047), "d2047\n"},
		{"2048 bytes", sized("d2048", 2048), "d2048\n"},
		{"2049 bytes: one read takes 2048", sized("d2049", 2048) + "; echo past", "d2049\n"},
		{"cut at NUL", "echo nul\x00; echo after", "nul\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startGuest(t, false, rpc.Policy{})
			if tc.send != "" {
				if _, err := g.raw.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
			} else {
				g.host.Close()
			}
			if err := <-g.result; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := g.out.String(); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
		})
	}
	g := startGuest(t, false, rpc.Policy{})
	if err := g.host.SendDisposable(context.Background(), sized("x", 2049)); !errors.Is(err, vsockexec.ErrTooLong) {
		t.Errorf("SendDisposable of 2049 bytes: %v", err)
	}
	g.host.Close()
	<-g.result
}

func TestPersistent(t *testing.T) {
	g := startGuest(t, true, rpc.Policy{})
	ctx := context.Background()
	frame := func(n int, body string) []byte {
		return append(binary.LittleEndian.AppendUint16(nil, uint16(n)), body...)
	}
	var stream bytes.Buffer
	stream.Write(frame(0, ""))                             // runs nothing
	stream.Write(frame(2047, sized("p2047", 2047)))        // runs
	stream.Write(frame(2048, sized("p2048", 2048)))        // runs
	stream.Write(frame(2049, sized("p2049", 2049)))        // too long: skipped
	stream.Write(frame(65535, strings.Repeat("x", 65535))) // too long: skipped
	stream.Write(frame(len("echo a\x00b"), "echo a\x00b")) // cut at NUL
	if _, err := g.raw.Write(stream.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"echo err >&2", "echo sent", "echo last"} {
		if err := g.host.Send(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.host.Send(ctx, sized("x", 2049)); !errors.Is(err, vsockexec.ErrTooLong) {
		t.Errorf("Send of 2049 bytes: %v", err)
	}
	g.out.Wait(t, "last\n")
	g.host.Close() // the host disconnects: the loop ends cleanly
	if err := <-g.result; err != nil {
		t.Errorf("Run after the host disconnected: %v", err)
	}
	want := "p2047\np2048\na\nerr\nsent\nlast\n"
	if d := cmp.Diff(want, g.out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
}

func TestPersistentBrokenPrefix(t *testing.T) {
	tests := []struct {
		name string
		send []byte
	}{
		{"half a length", []byte{5}},
		{"short body", append([]byte{10, 0}, "echo"...)},
		{"short skipped body", append([]byte{0x01, 0x10}, "echo"...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startGuest(t, true, rpc.Policy{})
			if _, err := g.raw.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			g.host.Close()
			if err := <-g.result; !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Run: %v, want unexpected EOF", err)
			}
			if out := g.out.String(); out != "" {
				t.Errorf("ran something: %q", out)
			}
		})
	}
}

// TestPolicy: the host is admitted (or not) by the agent's policy, as a
// native peer.
func TestPolicy(t *testing.T) {
	g := startGuest(t, true, rpc.Policy{AllowUIDs: []uint32{54321}, AllowGIDs: []uint32{54321}})
	err := <-g.result
	if rpc.CodeOf(err) != rpc.PermissionDenied {
		t.Errorf("Run with the host refused: %v, want PermissionDenied", err)
	}
}

// TestHostListeners: the hybrid and hyperkit listeners sit where those
// hypervisors deliver a guest's connection to host port 1024, and Accept
// gives up when its context ends.
func TestHostListeners(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		listen func() (net.Listener, error)
		path   string
	}{
		{func() (net.Listener, error) { return vsockexec.ListenHybrid(filepath.Join(dir, "v.sock"), 1024) }, filepath.Join(dir, "v.sock_1024")},
		{func() (net.Listener, error) { return vsockexec.ListenHyperkit(dir, 1024) }, filepath.Join(dir, "00000002.00000400")},
	} {
		l, err := tc.listen()
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("unix", tc.path)
		if err != nil {
			t.Errorf("dialing %s: %v", tc.path, err)
			l.Close()
			continue
		}
		g, err := vsockexec.Accept(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Send(context.Background(), "echo hi"); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 9)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "\x07\x00echo hi" {
			t.Errorf("sent %q, %v", got, err)
		}
		c.Close()
		g.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := vsockexec.Accept(ctx, l); !errors.Is(err, context.Canceled) {
			t.Errorf("Accept with a canceled context: %v", err)
		}
		l.Close()
	}
}
