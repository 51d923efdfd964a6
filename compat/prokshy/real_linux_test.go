package prokshy_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/compat/prokshy"
	"github.com/guestrpc/guestrpc/internal/testenv"
)

// TestCliPy drives the guest side with prokshy's own client, cli.py,
// unchanged (testdata/prokshy), over a unix socket standing in for
// bhyve's.
func TestCliPy(t *testing.T) {
	python, err := osexec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "python3: %v", err)
		return
	}
	a, err := agent.New(agent.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer a.Shutdown(context.Background())
	srv, err := prokshy.NewServer(prokshy.Options{Server: a.Server, Dir: commands(t)})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "vtcon.prokshy")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- srv.Serve(context.Background(), c) // until cli.py closes
	}()
	cli, _ := filepath.Abs("testdata/prokshy/cli.py")
	var stderr bytes.Buffer
	cmd := osexec.Command(python, cli, "--command", "upper", "--from-string", "hello from cli.py", "--socket-path", sock)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "HELLO FROM CLI.PY" {
		t.Errorf("cli.py: %q, %v, stderr %s", out, err, stderr.String())
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after cli.py left: %v", err)
	}
}

// TestMainSh drives prokshy's own guest loop, main.sh, with this
// package's host client, on a pty pair standing in for the console: the
// terminal echoes the request, which Run drops as cli.py does. main.sh
// needs read -t, which dash lacks, so bash runs it (in POSIX mode); its
// ETCDIR names /usr/local/etc/prokshy, so a copy with that one line
// pointing at a test directory runs.
func TestMainSh(t *testing.T) {
	bash, err := osexec.LookPath("bash")
	if err != nil {
		testenv.Missing(t, "bash: %v", err)
		return
	}
	etc := t.TempDir()
	cmdDir := commands(t)
	if err := os.Symlink(cmdDir, filepath.Join(etc, "command.d")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/prokshy/main.sh")
	if err != nil {
		t.Fatal(err)
	}
	const etcLine = `ETCDIR="/usr/local/etc/prokshy"`
	if !bytes.Contains(src, []byte(etcLine)) {
		t.Fatalf("main.sh has no line %s", etcLine)
	}
	script := filepath.Join(t.TempDir(), "main.sh")
	if err := os.WriteFile(script, bytes.Replace(src, []byte(etcLine), []byte(`ETCDIR="`+etc+`"`), 1), 0o755); err != nil {
		t.Fatal(err)
	}
	master, slave := openPty(t)
	cmd := osexec.Command(bash, "--posix", script)
	cmd.Stdin, cmd.Stdout = slave, slave
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	tests := []struct{ cmd, arg, want string }{
		{"upper", "through main.sh", "THROUGH MAIN.SH"},
		{"show", "x y", "[x y]"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		if _, err := prokshy.Run(context.Background(), master, tc.cmd, tc.arg, &out, runOpts()); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%s %q via main.sh: %q, want %q (stderr %q)", tc.cmd, tc.arg, out.String(), tc.want, stderr.String())
		}
	}
	// 16 MiB of output through the terminal (which turns no byte of
	// /dev/zero into anything else).
	var n countWriter
	if _, err := prokshy.Run(context.Background(), master, "big", "", &n, runOpts()); err != nil || n != 16<<20 {
		t.Errorf("16 MiB via main.sh: %d bytes, %v", n, err)
	}
}

// openPty opens a pseudo-terminal pair; the master is non-blocking, so
// that it has read deadlines.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		testenv.Missing(t, "a pty: %v", err)
		t.FailNow()
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	return master, slave
}
