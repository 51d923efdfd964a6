package forward_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a client of a fresh Service served over a unix socket.
func setup(t testing.TB) (*forward.Client, *forward.Service) {
	t.Helper()
	svc, err := forward.NewService(forward.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	c := testutil.Pair(t, srv)
	t.Cleanup(func() { svc.Close() }) // before the pair's cleanup: calls end first
	return forward.NewClient(c), svc
}

// testCtx bounds a test generously: it only catches hangs.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoServer serves one connection on a unix socket, echoing it.
func echoServer(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(conn, conn)
		conn.Close()
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return sock
}

func TestPortForwardHTTP(t *testing.T) {
	c, _ := setup(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the guest, %s", r.URL.Path)
	}))
	defer srv.Close()
	tr := &http.Transport{DialContext: c.Dial}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for _, path := range []string{"/a", "/b", "/c"} {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := "hello from the guest, " + path; string(body) != want {
			t.Errorf("GET %s: %q, want %q", path, body, want)
		}
	}
}

func TestPortForwardUnix(t *testing.T) {
	c, _ := setup(t)
	sock := echoServer(t)
	ctx := testCtx(t)
	conn, err := c.Dial(ctx, "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := bytes.Repeat([]byte("echo! "), 100000)
	go func() {
		conn.Write(msg)
		conn.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("echo returned %d bytes, want %d", len(got), len(msg))
	}

	conn.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("read past the deadline succeeded")
	}
}

func TestDialErrors(t *testing.T) {
	c, _ := setup(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		network, addr string
		code          rpc.Code
	}{
		{"unix", sock, rpc.Unavailable},
		{"udp", "127.0.0.1:1", rpc.InvalidArgument},
		{"tcp", "", rpc.InvalidArgument},
	}
	for _, tt := range tests {
		_, err := c.Dial(testCtx(t), tt.network, tt.addr)
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" || rpc.CodeOf(err) != tt.code {
			t.Errorf("Dial(%q, %q) = %v, want a dial *net.OpError with code %v", tt.network, tt.addr, err, tt.code)
		}
	}
}

// TestDialContextBoundsDialOnly: canceling Dial's ctx after it returned
// leaves the connection working, as with net.Dialer.
func TestDialContextBoundsDialOnly(t *testing.T) {
	c, _ := setup(t)
	sock := echoServer(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	conn, err := c.Dial(ctx, "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	if _, err := conn.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("still here"))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "still here" {
		t.Errorf("after the dial's ctx ended: read %q, %v", buf, err)
	}
	if _, err := c.Dial(ctx, "unix", sock); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with an ended ctx: %v, want context.Canceled", err)
	}
}

// TestClose: Close ends the connections being forwarded and refuses new
// ones.
func TestClose(t *testing.T) {
	c, svc := setup(t)
	sock := echoServer(t)
	ctx := testCtx(t)
	conn, err := c.Dial(ctx, "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(conn); err != nil && !errors.Is(err, io.EOF) && rpc.CodeOf(err) != rpc.Unavailable {
		t.Errorf("reading after Close: %v", err)
	}
	if _, err := c.Dial(ctx, "unix", sock); rpc.CodeOf(err) != rpc.Unavailable {
		t.Errorf("Dial after Close: %v, want Unavailable", err)
	}
}
