//go:build linux || darwin

package term

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), getTermios)
	return err == nil
}

// MakeRaw puts the terminal fd into raw mode (no echo, no line editing,
// no signals from keys, no output processing) and returns a func that
// restores the previous state.
func MakeRaw(fd uintptr) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(int(fd), getTermios)
	if err != nil {
		return nil, fmt.Errorf("term: fd %d: reading termios: %w", fd, err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(int(fd), setTermios, &raw); err != nil {
		return nil, fmt.Errorf("term: fd %d: setting raw mode: %w", fd, err)
	}
	return func() error {
		if err := unix.IoctlSetTermios(int(fd), setTermios, old); err != nil {
			return fmt.Errorf("term: fd %d: restoring termios: %w", fd, err)
		}
		return nil
	}, nil
}

// Size returns the rows and columns of the terminal fd.
func Size(fd uintptr) (rows, cols uint16, err error) {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, fmt.Errorf("term: fd %d: TIOCGWINSZ: %w", fd, err)
	}
	return ws.Row, ws.Col, nil
}

// NotifyResize relays SIGWINCH (the terminal was resized) to c; stop
// with signal.Stop(c).
func NotifyResize(c chan<- os.Signal) { signal.Notify(c, syscall.SIGWINCH) }
