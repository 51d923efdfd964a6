package files_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestMain's helper: with GUESTRPC_TEST_KILL_AGENT set, the test binary
// is an agent serving files on that unix socket whose process kills
// itself after a write's data is on disk, before the rename.
func runKilledAgent() {
	sock, root := os.Getenv("GUESTRPC_TEST_KILL_AGENT"), os.Getenv("GUESTRPC_TEST_KILL_ROOT")
	newSvc := files.NewService
	if os.Getenv("GUESTRPC_TEST_KILL_TREE") == "portable" {
		newSvc = files.NewPortableService
	}
	svc, err := newSvc(files.Options{Root: root})
	if err != nil {
		os.Exit(2)
	}
	files.SetBeforeCommit(svc, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.Exit(2)
	}
	c, err := l.Accept()
	if err != nil {
		os.Exit(2)
	}
	srv.ServeChannel(context.Background(), channel.NewStream(c, channel.StreamOptions{}))
	os.Exit(3) // not reached: the write kills the process
}

// TestOverwriteKilledBeforeRename kills the agent process between the
// fsync of a write's new contents and their rename over the target: the
// target keeps its old contents and no temporary file is left (the new
// contents live in an unnamed O_TMPFILE until committed). The portable
// tree, which names its temporary file, leaves exactly that file.
func TestOverwriteKilledBeforeRename(t *testing.T) {
	for _, tree := range []string{"default", "portable"} {
		t.Run(tree, func(t *testing.T) {
			root := t.TempDir()
			target := filepath.Join(root, "target")
			if err := os.WriteFile(target, []byte("old contents"), 0o644); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(t.TempDir(), "agent.sock")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "GUESTRPC_TEST_KILL_AGENT="+sock, "GUESTRPC_TEST_KILL_ROOT="+root, "GUESTRPC_TEST_KILL_TREE="+tree)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			conn := dialRetry(t, sock, cmd)
			ctx := context.Background()
			c, err := rpc.NewClient(ctx, channel.NewStream(conn, channel.StreamOptions{}), rpc.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = files.NewClient(c).Upload(ctx, bytes.NewReader(bytes.Repeat([]byte("new"), 100<<10)), "target", files.WriteOptions{})
			if err == nil {
				t.Fatal("the upload succeeded although the agent was killed before committing it")
			}
			werr := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("agent ended with %v, want killed by SIGKILL\n%s", werr, stderr.String())
			}
			if got, _ := os.ReadFile(target); string(got) != "old contents" {
				t.Fatalf("target holds %d bytes after the kill, want the old contents", len(got))
			}
			entries, _ := os.ReadDir(root)
			switch {
			case tree == "default" && len(entries) != 1:
				t.Errorf("directory holds %v after the kill: a temporary file was left", entries)
			case tree == "portable" && len(entries) != 2:
				t.Errorf("directory holds %v after the kill, want the target and its named temporary file", entries)
			}
		})
	}
}

// dialRetry connects to the child agent's socket once it listens.
func dialRetry(t *testing.T, sock string, cmd *exec.Cmd) net.Conn {
	t.Helper()
	for range 1000 {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("the agent process never listened")
	return nil
}
