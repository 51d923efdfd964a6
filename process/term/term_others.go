//go:build !linux && !darwin

package term

import (
	"errors"
	"os"
)

// ErrNotSupported is returned where terminals are not supported.
var ErrNotSupported = errors.New("term: not supported on this platform")

// IsTerminal reports false here.
func IsTerminal(fd uintptr) bool { return false }

// MakeRaw returns ErrNotSupported here.
func MakeRaw(fd uintptr) (restore func() error, err error) { return nil, ErrNotSupported }

// Size returns ErrNotSupported here.
func Size(fd uintptr) (rows, cols uint16, err error) { return 0, 0, ErrNotSupported }

// NotifyResize does nothing here: there is no resize signal.
func NotifyResize(c chan<- os.Signal) {}
