//go:build !linux && !darwin

package term

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// unsupported is the error of every call here; it wraps
// errors.ErrUnsupported.
func unsupported(op string, fd uintptr) error {
	return fmt.Errorf("term: fd %d: %s is not supported on %s: %w", fd, op, runtime.GOOS, errors.ErrUnsupported)
}

// IsTerminal reports false here.
func IsTerminal(fd uintptr) bool { return false }

// MakeRaw returns an error wrapping errors.ErrUnsupported here.
func MakeRaw(fd uintptr) (restore func() error, err error) { return nil, unsupported("raw mode", fd) }

// Size returns an error wrapping errors.ErrUnsupported here.
func Size(fd uintptr) (rows, cols uint16, err error) {
	return 0, 0, unsupported("reading the size", fd)
}

// NotifyResize does nothing here: there is no resize signal.
func NotifyResize(c chan<- os.Signal) {}
