//go:build !linux

package main

import (
	"errors"
	"fmt"
	"runtime"
)

// releaseText is Linux-only.
func releaseText() (int64, error) {
	return 0, fmt.Errorf("releasing the binary's pages on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
