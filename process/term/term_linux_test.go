package term_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/process/term"
)

// openPTY returns the master and slave of a new pseudo-terminal.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal (open /dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if term.IsTerminal(r.Fd()) {
		t.Error("a pipe is a terminal")
	}
	if _, err := term.MakeRaw(r.Fd()); err == nil {
		t.Error("MakeRaw of a pipe succeeded")
	}

	m, s := openPTY(t)
	if !term.IsTerminal(s.Fd()) {
		t.Fatal("the pty slave is not a terminal")
	}
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	if rows, cols, err := term.Size(s.Fd()); err != nil || rows != 33 || cols != 77 {
		t.Errorf("Size = %d, %d, %v; want 33, 77", rows, cols, err)
	}
	restore, err := term.MakeRaw(s.Fd())
	if err != nil {
		t.Fatal(err)
	}
	tio, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
		t.Errorf("raw mode left lflag %#x", tio.Lflag)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	tio, _ = unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if tio.Lflag&unix.ICANON == 0 {
		t.Error("restore did not bring back canonical mode")
	}
}
