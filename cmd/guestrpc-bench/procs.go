package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/internal/bench"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// child is a process the harness started; stop ends it.
type child struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func startChild(name, logPath string, env []string, path string, args ...string) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &child{name: name, cmd: cmd, log: lf}, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// rss is the child's resident set in bytes.
func (c *child) rss() (int64, error) { return bench.ProcStatus(c.pid(), "VmRSS") }

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.log.Close()
}

// buildAgent builds guestrpc-agent the way an initramfs wants it:
// static (no cgo), stripped, into dir.
func buildAgent(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "guestrpc-agent")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/guestrpc-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/guestrpc-agent (run from the module root): %w\n%s", err, b)
	}
	return out, nil
}

// waitDial retries dial until it succeeds, the child exits or ctx ends.
func waitDial[T any](ctx context.Context, c *child, dial func(context.Context) (T, error)) (T, error) {
	for {
		v, err := dial(ctx)
		if err == nil {
			return v, nil
		}
		if c.cmd.ProcessState != nil || ctx.Err() != nil {
			var zero T
			return zero, fmt.Errorf("%s not answering (see %s): %w", c.name, c.log.Name(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startAgent starts guestrpc-agent on a unix socket in dir, its files
// rooted at root, and connects to it.
func startAgent(ctx context.Context, bin, dir, root string, maxConns int, env []string, window uint32) (*child, *rpc.Client, error) {
	sock := filepath.Join(dir, "agent.sock")
	ch, err := startChild("guestrpc-agent", filepath.Join(dir, "agent.log"), env, bin,
		"--listen", "unix:"+sock, "--root", root, "--name", "guestrpc-bench", "--max-conns", strconv.Itoa(maxConns))
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := waitDial(dctx, ch, func(ctx context.Context) (*rpc.Client, error) {
		return transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{Name: "guestrpc-bench", Window: window})
	})
	if err != nil {
		ch.stop()
		return nil, nil, err
	}
	return ch, c, nil
}

// startQGA starts qemu-ga listening on a unix socket in dir and
// connects to it.
func startQGA(ctx context.Context, bin, dir string) (*child, *bench.QGA, error) {
	sock, state := filepath.Join(dir, "qga.sock"), filepath.Join(dir, "qga-state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, nil, err
	}
	ch, err := startChild("qemu-ga", filepath.Join(dir, "qga.log"), nil, bin, "-m", "unix-listen", "-p", sock, "-t", state)
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, err := waitDial(dctx, ch, func(ctx context.Context) (*bench.QGA, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, err
		}
		q := bench.NewQGA(conn, 0)
		if err := q.Sync(ctx, time.Now().UnixNano()&(1<<31-1)); err != nil {
			q.Close()
			return nil, err
		}
		return q, nil
	})
	if err != nil {
		ch.stop()
		return nil, nil, err
	}
	return ch, q, nil
}

// startFloor starts this program as the floor child on a socket in dir.
func startFloor(ctx context.Context, dir, download string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	sock := filepath.Join(dir, "floor.sock")
	ch, err := startChild("floor child", filepath.Join(dir, "floor.log"), nil, self,
		"-floor-child", sock, "-floor-dir", dir, "-download", download)
	if err != nil {
		return nil, "", err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f, err := waitDial(dctx, ch, func(context.Context) (*floorConn, error) { return dialFloor(sock, modeEcho) })
	if err != nil {
		ch.stop()
		return nil, "", err
	}
	f.Close()
	return ch, sock, nil
}

var errNoQGA = errors.New("qemu-ga not found")

// findQGA looks for qemu-ga on PATH and in /usr/sbin and /usr/bin.
func findQGA(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p, err := exec.LookPath("qemu-ga"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errNoQGA
}
