package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
	"github.com/guestrpc/guestrpc/transport"
)

// runAsAgent makes the test binary run main (see TestMain), so the tests
// below run guestrpc-agent as a process of its own.
const runAsAgent = "GUESTRPC_TEST_RUN_AS_AGENT"

// agentProcess is guestrpc-agent started with args.
type agentProcess struct {
	cmd    *exec.Cmd
	stderr *testutil.LockedBuffer
	done   chan struct{}
	err    error
}

func startAgent(t *testing.T, args ...string) *agentProcess {
	t.Helper()
	p := &agentProcess{cmd: exec.Command(os.Args[0], args...), stderr: &testutil.LockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), runAsAgent+"=1")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the exit code, failing t if the agent does not exit.
func (p *agentProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("agent did not exit; stderr:\n%s", p.stderr.String())
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	t.Fatalf("agent: %v; stderr:\n%s", p.err, p.stderr.String())
	return -1
}

// dial connects to the agent's unix socket once it is listening.
func (p *agentProcess) dial(t *testing.T, sock string) *rpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c, err := transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{Name: "test"})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		select {
		case <-p.done:
			t.Fatalf("agent exited before serving (%v); stderr:\n%s", p.err, p.stderr.String())
		case <-ctx.Done():
			t.Fatalf("dial %s: %v; stderr:\n%s", sock, err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestProcessServesUntilSignalled runs the agent with --name, --root and
// --read-only, calls it, then stops it with SIGTERM or SIGINT: it exits
// with status 0.
func TestProcessServesUntilSignalled(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(dir, "agent.sock")
			p := startAgent(t, "--listen", "unix:"+sock, "--name", "agent-under-test", "--root", root, "--read-only")
			c := p.dial(t, sock)
			ctx := context.Background()
			if c.PeerName() != "agent-under-test" {
				t.Errorf("peer name %q, want the --name given", c.PeerName())
			}
			info, err := sysinfo.NewClient(c).Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.PID != p.cmd.Process.Pid {
				t.Errorf("sys.info pid %d, want the agent process's %d", info.PID, p.cmd.Process.Pid)
			}
			fc := files.NewClient(c)
			_, err = fc.Upload(ctx, strings.NewReader("x"), "new", files.WriteOptions{})
			if rpc.CodeOf(err) != rpc.PermissionDenied {
				t.Errorf("upload under --read-only: %v, want PermissionDenied", err)
			}
			if err := os.WriteFile(filepath.Join(root, "inside"), []byte("under --root"), 0o644); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := fc.Download(ctx, "inside", &got, files.ReadOptions{}); err != nil || got.String() != "under --root" {
				t.Errorf("download inside: %q, %v; want the file under --root", got.String(), err)
			}
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != 0 {
				t.Fatalf("after %v: exit %d, want 0; stderr:\n%s", sig, code, p.stderr.String())
			}
		})
	}
}

// TestProcessExitStatus: bad command lines exit 2 with a message, a
// target that cannot be served exits 1.
func TestProcessExitStatus(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no arguments", nil, 2, "nothing to serve"},
		{"unknown flag", []string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"--listen", "unix:" + filepath.Join(dir, "s"), "extra"}, 2, "unexpected arguments"},
		{"bad duration", []string{"--grace", "soon", "--listen", "unix:" + filepath.Join(dir, "s")}, 2, "-grace"},
		{"socket in a missing directory", []string{"--listen", "unix:" + filepath.Join(dir, "none", "s")}, 1, "guestrpc-agent:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startAgent(t, tc.args...)
			if code := p.wait(t); code != tc.code || !strings.Contains(p.stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr containing %q", code, p.stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}
