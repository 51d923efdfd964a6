package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// peerChannel is a channel that reports a chosen peer, as the transports
// do for unix credentials, vsock CIDs and virtio ports.
type peerChannel struct {
	channel.Channel
	info channel.PeerInfo
}

func (c peerChannel) PeerInfo() channel.PeerInfo { return c.info }

// dialAs connects a client with opts to srv, whose side of the
// connection reports info as its peer.
func dialAs(t *testing.T, srv *rpc.Server, info channel.PeerInfo, opts rpc.ClientOptions) (*rpc.Client, error) {
	t.Helper()
	a, z := testutil.SocketPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(context.Background(), peerChannel{channel.NewStream(a, channel.StreamOptions{}), info})
	}()
	t.Cleanup(func() { a.Close(); z.Close(); <-done })
	c, err := rpc.NewClient(testCtx(t), channel.NewStream(z, channel.StreamOptions{}), opts)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestPolicyAdmission: who may connect, per transport, under the default
// policy and configured ones. A refused peer learns why from the
// handshake's error.
func TestPolicyAdmission(t *testing.T) {
	unix := func(uid, gid uint32) channel.PeerInfo {
		return channel.PeerInfo{Transport: channel.TransportUnix, HasCred: true, UID: uid, GID: gid, PID: 42}
	}
	vsock := func(cid uint32) channel.PeerInfo {
		return channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: cid}
	}
	tcp := channel.PeerInfo{Transport: channel.TransportTCP}
	secret := []byte("s3cret-token")
	tests := []struct {
		name    string
		policy  rpc.Policy
		peer    channel.PeerInfo
		token   []byte
		want    rpc.Code
		wantMsg string
	}{
		{"unix root", rpc.Policy{}, unix(0, 0), nil, rpc.OK, ""},
		{"unix other uid", rpc.Policy{}, unix(65534, 65534), nil, rpc.PermissionDenied, "uid 65534 (pid 42) is neither root"},
		{"unix without credentials", rpc.Policy{}, channel.PeerInfo{Transport: channel.TransportUnix}, nil, rpc.PermissionDenied, "credentials are unknown"},
		{"unix allowed uid", rpc.Policy{AllowUIDs: []uint32{1000}}, unix(1000, 1000), nil, rpc.OK, ""},
		{"unix allowed gid", rpc.Policy{AllowGIDs: []uint32{27}}, unix(1000, 27), nil, rpc.OK, ""},
		{"unix root not in an explicit list", rpc.Policy{AllowUIDs: []uint32{1000}}, unix(0, 0), nil, rpc.PermissionDenied, "not in the allowed uids [1000]"},
		{"vsock host", rpc.Policy{}, vsock(rpc.HostCID), nil, rpc.OK, ""},
		{"vsock loopback CID", rpc.Policy{}, vsock(1), nil, rpc.PermissionDenied, "CID 1 is not in the allowed CIDs [2]"},
		{"vsock another guest", rpc.Policy{}, vsock(7), nil, rpc.PermissionDenied, "CID 7"},
		{"vsock allowed CID", rpc.Policy{AllowCIDs: []uint32{1}}, vsock(1), nil, rpc.OK, ""},
		{"vsock without CID", rpc.Policy{}, channel.PeerInfo{Transport: channel.TransportVsock}, nil, rpc.PermissionDenied, "context ID is unknown"},
		{"tcp, no token configured", rpc.Policy{}, tcp, nil, rpc.PermissionDenied, "TCP peers need a token"},
		{"tcp, right token", rpc.Policy{Token: secret}, tcp, secret, rpc.OK, ""},
		{"tcp, wrong token", rpc.Policy{Token: secret}, tcp, []byte("s3cret-tokem"), rpc.Unauthenticated, "missing or wrong"},
		{"tcp, no token sent", rpc.Policy{Token: secret}, tcp, nil, rpc.Unauthenticated, "missing or wrong"},
		{"tcp, token prefix", rpc.Policy{Token: secret}, tcp, secret[:4], rpc.Unauthenticated, "missing or wrong"},
		{"unix root, token required", rpc.Policy{Token: secret}, unix(0, 0), nil, rpc.Unauthenticated, "missing or wrong"},
		{"tcp, insecure", rpc.Policy{Insecure: true}, tcp, nil, rpc.OK, ""},
		{"virtio", rpc.Policy{}, channel.PeerInfo{Transport: channel.TransportVirtio}, nil, rpc.OK, ""},
		{"vmware tclo", rpc.Policy{}, channel.PeerInfo{Transport: channel.TransportVMware}, nil, rpc.OK, ""},
		{"a channel the program built", rpc.Policy{}, channel.PeerInfo{}, nil, rpc.OK, ""},
		{"an unknown transport", rpc.Policy{}, channel.PeerInfo{Transport: "carrier-pigeon"}, nil, rpc.PermissionDenied, "no admission rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{Policy: tt.policy})
			c, err := dialAs(t, srv, tt.peer, rpc.ClientOptions{Token: tt.token})
			if tt.want == rpc.OK {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
					t.Errorf("sys.ping after admission: %v", err)
				}
				return
			}
			if rpc.CodeOf(err) != tt.want || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("NewClient: %v, want %v containing %q", err, tt.want, tt.wantMsg)
			}
		})
	}
}

// TestPolicyMethods: Allow and Block globs decide what may be called;
// refusals are PermissionDenied with the reason, logged once per
// connection, and Request.Allowed tells a handler what the caller may
// call.
func TestPolicyMethods(t *testing.T) {
	methods := []string{"file.read", "file.write", "process.start", "net.dial", "power.halt"}
	tests := []struct {
		name         string
		policy       rpc.Policy
		wantCallable []string // of methods, plus the built-in sys.ping and sys.list when allowed
	}{
		{"everything", rpc.Policy{}, []string{"file.read", "file.write", "net.dial", "power.halt", "process.start", "sys.list", "sys.ping"}},
		{"allow a glob", rpc.Policy{Allow: []string{"file.*", "sys.*"}}, []string{"file.read", "file.write", "sys.list", "sys.ping"}},
		{"block a glob", rpc.Policy{Block: []string{"power.*", "net.dial"}}, []string{"file.read", "file.write", "process.start", "sys.list", "sys.ping"}},
		{"block wins over allow", rpc.Policy{Allow: []string{"file.*", "sys.list"}, Block: []string{"file.write"}}, []string{"file.read", "sys.list"}},
		{"allow one exact name", rpc.Policy{Allow: []string{"sys.list"}}, []string{"sys.list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged atomic.Int32
			log := slog.New(countHandler{&logged, "refused a call by policy"})
			srv := rpc.NewServer(rpc.ServerOptions{Policy: tt.policy, Logger: log})
			for _, m := range methods {
				srv.HandleFunc(m, func(context.Context, *rpc.Request) (any, error) { return nil, nil })
			}
			srv.HandleFunc("sys.list", func(_ context.Context, req *rpc.Request) (any, error) {
				allowed := []string{}
				for _, m := range srv.Methods() {
					if req.Allowed(m) {
						allowed = append(allowed, m)
					}
				}
				return allowed, nil
			})
			c := testutil.Pair(t, srv)
			ctx := testCtx(t)
			var callable []string
			refused := 0
			for _, m := range append(methods, "sys.list", "sys.ping") {
				err := c.Call(ctx, m, nil, nil)
				switch {
				case err == nil:
					callable = append(callable, m)
				case rpc.CodeOf(err) == rpc.PermissionDenied && strings.Contains(err.Error(), m):
					refused++
				default:
					t.Errorf("%s: %v, want success or PermissionDenied naming the method", m, err)
				}
			}
			if diff := cmp.Diff(sortedCopy(tt.wantCallable), sortedCopy(callable)); diff != "" {
				t.Errorf("callable methods (-want +got):\n%s", diff)
			}
			if refused > 0 && logged.Load() != 1 {
				t.Errorf("%d refusals logged %d times, want once per connection", refused, logged.Load())
			}
			var listed []string
			if slicesContain(tt.wantCallable, "sys.list") {
				if err := c.Call(ctx, "sys.list", nil, &listed); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(sortedCopy(tt.wantCallable), listed); diff != "" {
					t.Errorf("methods Allowed lists (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestWithPolicy: a listener's own policy replaces the server's for the
// sessions it accepts, so one transport can be limited.
func TestWithPolicy(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("other.method", func(context.Context, *rpc.Request) (any, error) { return nil, nil })
	sock := filepath.Join(t.TempDir(), "limited.sock")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, rpc.WithPolicy(l, rpc.Policy{Allow: []string{"sys.ping"}})) }()
	defer func() { cancel(); <-served }()
	c, err := dialUnix(testCtx(t), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
		t.Errorf("sys.ping: %v", err)
	}
	if err := c.Call(testCtx(t), "other.method", nil, nil); rpc.CodeOf(err) != rpc.PermissionDenied {
		t.Errorf("other.method through the limited listener: %v, want PermissionDenied", err)
	}
	// The server's own policy still applies elsewhere.
	if err := testutil.Pair(t, srv).Call(testCtx(t), "other.method", nil, nil); err != nil {
		t.Errorf("other.method through ServeChannel: %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []rpc.Policy{{Allow: []string{"file.["}}, {Block: []string{""}}} {
		if err := p.Validate(); !errors.Is(err, rpc.ErrBadPattern) {
			t.Errorf("Validate(%+v) = %v, want ErrBadPattern", p, err)
		}
	}
	if err := (&rpc.Policy{Allow: []string{"file.*", "sys.?ing"}}).Validate(); err != nil {
		t.Errorf("Validate of good globs: %v", err)
	}
}

// countHandler counts log records whose message contains msg.
type countHandler struct {
	n   *atomic.Int32
	msg string
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	slices.Sort(c)
	return c
}

func slicesContain(s []string, v string) bool { return slices.Contains(s, v) }

// closeCounter counts Close calls.
type closeCounter struct{ closed *atomic.Int32 }

func (c closeCounter) Close() error { c.closed.Add(1); return nil }

// TestSessionState: per-connection state is created once per connection,
// not shared between connections, and closed when its connection ends.
func TestSessionState(t *testing.T) {
	type key struct{}
	var created, closed atomic.Int32
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("session.id", func(ctx context.Context, call *rpc.Request) (any, error) {
		v := call.Session().Value(key{}, func() any {
			return struct {
				closeCounter
				ID int32
			}{closeCounter{&closed}, created.Add(1)}
		})
		return v.(struct {
			closeCounter
			ID int32
		}).ID, nil
	})
	a, b := testutil.Pair(t, srv), testutil.Pair(t, srv)
	ctx := testCtx(t)
	ids := func(c *rpc.Client) []int32 {
		var got []int32
		for range 3 {
			var id int32
			if err := c.Call(ctx, "session.id", nil, &id); err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
		}
		return got
	}
	if diff := cmp.Diff([]int32{1, 1, 1}, ids(a)); diff != "" {
		t.Errorf("connection a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{2, 2, 2}, ids(b)); diff != "" {
		t.Errorf("connection b (-want +got):\n%s", diff)
	}
	if n := closed.Load(); n != 0 {
		t.Errorf("%d session values closed while their connections live", n)
	}
	a.Close()
	waitFor(t, "a's session state to be closed", func() bool { return closed.Load() == 1 })
	if diff := cmp.Diff([]int32{2}, ids(b)[:1]); diff != "" {
		t.Errorf("connection b after a left (-want +got):\n%s", diff)
	}
}

// TestRefusedPeersTakeNoSlot: peers the policy refuses by who they are
// (here a vsock CID other than the host's) are refused before their
// HELLO and take no connection slot, so silent ones cannot keep the
// host out; past MaxConns refusals at a time they are closed unanswered.
func TestRefusedPeersTakeNoSlot(t *testing.T) {
	const maxConns = 2
	srv := rpc.NewServer(rpc.ServerOptions{MaxConns: maxConns})
	// The silent strangers' refusals must still be under way at the last
	// check, however slow the machine: they end when ctx does.
	rpc.SetRefusalWait(srv, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	defer func() { cancel(); served.Wait() }()
	stranger := channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: 5}
	connect := func() net.Conn {
		a, z := testutil.SocketPair(t)
		served.Add(1)
		go func() {
			defer served.Done()
			_ = srv.ServeChannel(ctx, peerChannel{channel.NewStream(a, channel.StreamOptions{}), stranger})
		}()
		return z
	}
	handshake := func() error {
		_, err := rpc.NewClient(testCtx(t), channel.NewStream(connect(), channel.StreamOptions{}), rpc.ClientOptions{})
		return err
	}
	// A stranger that sends its HELLO learns why it is refused.
	if err := handshake(); rpc.CodeOf(err) != rpc.PermissionDenied {
		t.Errorf("a refused stranger's handshake: %v, want PermissionDenied", err)
	}
	for range 2 * maxConns {
		connect() // silent: never sends its HELLO
	}
	// Their serving goroutines may not have run yet; the last check below
	// needs MaxConns of them waiting.
	waitFor(t, "the silent strangers' refusals to be under way", func() bool { return rpc.RefusalsUnderWay(srv) == maxConns })
	host := channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: rpc.HostCID}
	for i := range maxConns {
		c := testutil.PairOver(t, srv, func(c net.Conn) channel.Channel {
			return peerChannel{channel.NewStream(c, channel.StreamOptions{}), host}
		}, func(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) })
		if err := c.Call(testCtx(t), "sys.ping", nil, nil); err != nil {
			t.Errorf("host connection %d beside %d silent refused peers: %v", i, 2*maxConns, err)
		}
	}
	// With MaxConns refusals under way, another stranger is closed at
	// once, unanswered.
	if err := handshake(); err == nil || rpc.CodeOf(err) == rpc.PermissionDenied {
		t.Errorf("a stranger past the refusals under way: %v, want the connection closed unanswered", err)
	}
}
