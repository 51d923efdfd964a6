package agent_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/compat/vsockexec"
)

// TestStartCompat: the seed protocols StartCompat turns on reach the
// agent's handlers (unix sockets in place of AF_VSOCK).
func TestStartCompat(t *testing.T) {
	a, err := agent.New(agent.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer a.Shutdown(context.Background())
	dir := t.TempDir()
	listen := func(name string) net.Listener {
		l, err := net.Listen("unix", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	exec, ready, host := listen("exec"), listen("ready"), listen("host")
	defer host.Close()
	c, err := a.StartCompat(context.Background(), agent.CompatOptions{
		MatchlockExec: exec, MatchlockReady: ready,
		VsockExecPersistent: true,
		VsockExecDial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", host.Addr().String())
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	rc, err := net.Dial("unix", ready.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("ready port: %d, %v; want it closed at once", n, err)
	}
	rc.Close()
	ml := matchlock.NewClient(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", exec.Addr().String())
	}, matchlock.ClientOptions{})
	resp, err := ml.Exec(context.Background(), matchlock.ExecRequest{Command: "echo matchlock"})
	if err != nil || string(resp.Stdout) != "matchlock\n" {
		t.Errorf("matchlock exec: %+v, %v", resp, err)
	}

	g, err := vsockexec.Accept(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	marker := filepath.Join(dir, "vsockexec-ran")
	if err := g.Send(context.Background(), "touch "+marker); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}
