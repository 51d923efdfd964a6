package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// peerChildEnv makes the test binary a client instead (see TestMain): it
// connects to the target in the variable, calls sys.ping and prints the
// outcome as JSON.
const peerChildEnv = "GUESTRPC_PEER_CHILD"

// outcome is how a connection attempt ended: "OK", the rpc status code of
// the refusal (handshake or sys.ping), or "EACCES" when the socket's
// permissions kept the client out.
type outcome struct {
	Code string
	UID  int
}

func attempt(target string, token []byte) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := outcome{UID: os.Getuid()}
	c, err := transport.Dial(ctx, target, rpc.ClientOptions{Token: token})
	if err == nil {
		err = c.Call(ctx, "sys.ping", nil, nil)
		c.Close()
	}
	var re *rpc.Error
	switch {
	case err == nil:
		o.Code = "OK"
	case errors.As(err, &re):
		o.Code = re.Code.String()
	case errors.Is(err, fs.ErrPermission):
		o.Code = "EACCES"
	default:
		o.Code = err.Error()
	}
	return o
}

func peerChild(target string) int {
	if err := json.NewEncoder(os.Stdout).Encode(attempt(target, nil)); err != nil {
		return 1
	}
	return 0
}

// asNobody runs attempt(target) in a child process running as the user
// nobody; exe is a copy of the test binary nobody may run.
func asNobody(t *testing.T, exe, target string) outcome {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		testenv.Missing(t, "a user named nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), peerChildEnv+"="+target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	var o outcome
	if err := json.Unmarshal(out, &o); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if o.UID != uid {
		t.Fatalf("child ran as uid %d, want nobody's %d", o.UID, uid)
	}
	return o
}

// serve serves an rpc.Server on lc.Listen(spec) until the test ends and
// returns the listener's address as a client target.
func serve(t *testing.T, lc *transport.ListenConfig, spec string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lc.Listen(ctx, spec)
	if err != nil {
		cancel()
		t.Fatalf("Listen(%q): %v", spec, err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{Policy: lc.Policy})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().Network() + ":" + l.Addr().String()
}

// sharedDir returns a directory every user may enter, holding a copy of
// the test binary every user may run.
func sharedDir(t *testing.T) (dir, exe string) {
	t.Helper()
	dir = t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe = filepath.Join(dir, "peer.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, exe
}

// TestUnixPeers connects to unix sockets as root and as nobody: the
// socket is 0600 whatever the umask, and once it is opened up (mode=),
// the policy still admits only root and the agent's uid unless told.
func TestUnixPeers(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Missing(t, "root, to run a client as another user (nobody)")
	}
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir, exe := sharedDir(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		testenv.Missing(t, "a user named nobody: %v", err)
	}
	tests := []struct {
		name   string
		opts   string
		policy rpc.Policy
		root   string // outcome for a client running as root
		nobody string // and as nobody
	}{
		{"default: owner-only socket", "", rpc.Policy{}, "OK", "EACCES"},
		{"open socket, default policy", ",mode=0666", rpc.Policy{}, "OK", "PermissionDenied"},
		{"open socket, nobody's uid allowed", ",mode=0666,uid=" + nobody.Uid, rpc.Policy{}, "PermissionDenied", "OK"},
		{"open socket, --allow-uid nobody and root", ",mode=0666", rpc.Policy{AllowUIDs: []uint32{0, uid(t, nobody.Uid)}}, "OK", "OK"},
		{"method policy: sys.ping not allowed", ",allow=sys.info", rpc.Policy{}, "PermissionDenied", "EACCES"},
		{"method policy: blocked on the agent, allowed on the listener", ",allow=sys.*", rpc.Policy{Block: []string{"sys.ping"}}, "PermissionDenied", "EACCES"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lc := &transport.ListenConfig{Policy: tt.policy}
			target := serve(t, lc, "unix:"+filepath.Join(dir, strconv.Itoa(i)+".sock")+tt.opts)
			got := []string{attempt(target, nil).Code, asNobody(t, exe, target).Code}
			if diff := cmp.Diff([]string{tt.root, tt.nobody}, got); diff != "" {
				t.Errorf("outcomes [root, nobody] (-want +got):\n%s", diff)
			}
		})
	}
}

func uid(t *testing.T, s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// TestTCPToken: a TCP listener admits only a peer presenting its token.
func TestTCPToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		lc    transport.ListenConfig
		spec  string
		token string
		want  string
	}{
		{"no token", transport.ListenConfig{Token: []byte("s3cret-token")}, "tcp:127.0.0.1:0", "", "Unauthenticated"},
		{"wrong token", transport.ListenConfig{Token: []byte("s3cret-token")}, "tcp:127.0.0.1:0", "s3cret-tokem", "Unauthenticated"},
		{"a prefix of the token", transport.ListenConfig{Token: []byte("s3cret-token")}, "tcp:127.0.0.1:0", "s3cret", "Unauthenticated"},
		{"right token", transport.ListenConfig{Token: []byte("s3cret-token")}, "tcp:127.0.0.1:0", "s3cret-token", "OK"},
		{"token from the target's token-file=", transport.ListenConfig{}, "tcp:127.0.0.1:0,token-file=" + tokenFile, "s3cret-token", "OK"},
		{"token-file= wins over the agent's", transport.ListenConfig{Token: []byte("other")}, "tcp:127.0.0.1:0,token-file=" + tokenFile, "other", "Unauthenticated"},
		{"insecure: no token needed", transport.ListenConfig{Policy: rpc.Policy{Insecure: true}}, "tcp:127.0.0.1:0", "", "OK"},
		{"right token, method not allowed", transport.ListenConfig{Token: []byte("s3cret-token")}, "tcp:127.0.0.1:0,allow=file.*", "s3cret-token", "PermissionDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := serve(t, &tt.lc, tt.spec)
			var tok []byte
			if tt.token != "" {
				tok = []byte(tt.token)
			}
			if got := attempt(target, tok).Code; got != tt.want {
				t.Errorf("outcome %s, want %s", got, tt.want)
			}
		})
	}
}

// TestListenRefusals: targets the agent must refuse to serve at all.
func TestListenRefusals(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open-token")
	if err := os.WriteFile(open, []byte("tok"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := []byte("tok")
	tests := []struct {
		name string
		lc   transport.ListenConfig
		spec string
		want error
	}{
		{"tcp without a token", transport.ListenConfig{}, "tcp:127.0.0.1:0", transport.ErrNoToken},
		{"tcp on every interface", transport.ListenConfig{Token: tok}, "tcp::0", transport.ErrPublic},
		{"tcp on 0.0.0.0", transport.ListenConfig{Token: tok}, "tcp:0.0.0.0:0", transport.ErrPublic},
		{"tcp on 0.0.0.0, insecure is not public", transport.ListenConfig{Token: tok, Policy: rpc.Policy{Insecure: true}}, "tcp:0.0.0.0:0", transport.ErrPublic},
		{"world-readable token file", transport.ListenConfig{}, "tcp:127.0.0.1:0,token-file=" + open, transport.ErrToken},
		{"reverse tcp without a token", transport.ListenConfig{}, "dial tcp:127.0.0.1:1", transport.ErrNoToken},
		{"a vsock option on unix", transport.ListenConfig{}, "unix:" + dir + "/a.sock,cid=3", transport.ErrOption},
		{"a socket option on tcp", transport.ListenConfig{Token: tok}, "tcp:127.0.0.1:0,mode=0666", transport.ErrOption},
		{"a bad method glob", transport.ListenConfig{}, "unix:" + dir + "/b.sock,allow=file.[", transport.ErrOption},
		{"a bad agent-wide glob", transport.ListenConfig{Policy: rpc.Policy{Block: []string{"["}}}, "unix:" + dir + "/c.sock", rpc.ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if spec, ok := strings.CutPrefix(tt.spec, "dial "); ok {
				_, err = tt.lc.Reverse(spec)
			} else {
				var l interface{ Close() error }
				if l, err = tt.lc.Listen(context.Background(), tt.spec); err == nil {
					l.Close()
				}
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("public with the opt-in", func(t *testing.T) {
		lc := transport.ListenConfig{Token: tok, Public: true}
		l, err := lc.Listen(context.Background(), "tcp:0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	})
}

// TestNetDialByPolicy: net.dial reaches services bound to the guest's
// loopback, so it answers to the method policy like any method: blocked
// agent-wide or left out of a listener's allow=, it is refused.
func TestNetDialByPolicy(t *testing.T) {
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		testenv.Missing(t, "TCP loopback: %v", err)
	}
	defer svc.Close()
	go func() {
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("loopback-only secret"))
			c.Close()
		}
	}()
	dir := t.TempDir()
	tests := []struct {
		name string
		lc   transport.ListenConfig
		opts string
		want string
	}{
		{"allowed by default", transport.ListenConfig{}, "", "OK"},
		{"--block-rpcs net.dial", transport.ListenConfig{Policy: rpc.Policy{Block: []string{"net.dial"}}}, "", "PermissionDenied"},
		{"not in the listener's allow=", transport.ListenConfig{}, ",allow=sys.*;file.*", "PermissionDenied"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			l, err := tt.lc.Listen(ctx, "unix:"+filepath.Join(dir, strconv.Itoa(i)+".sock")+tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := agent.New(agent.Config{Policy: tt.lc.Policy})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			done := make(chan struct{})
			go func() { defer close(done); _ = a.Serve(ctx, l) }()
			defer func() { cancel(); <-done }()
			c, err := transport.Dial(ctx, "unix:"+l.Addr().String(), rpc.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := "OK"
			conn, err := forward.NewClient(c).Dial(ctx, "tcp", svc.Addr().String())
			var re *rpc.Error
			switch {
			case errors.As(err, &re):
				got = re.Code.String()
			case err != nil:
				t.Fatal(err)
			default:
				b, _ := io.ReadAll(conn)
				conn.Close()
				if string(b) != "loopback-only secret" {
					t.Errorf("read %q through net.dial", b)
				}
			}
			if got != tt.want {
				t.Errorf("net.dial: %s, want %s", got, tt.want)
			}
		})
	}
}
