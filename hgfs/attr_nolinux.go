//go:build unix && !linux

package hgfs

import (
	"syscall"
	"time"
)

// statAtime is unknown here; callers fall back to the modification time.
func statAtime(*syscall.Stat_t) time.Time { return time.Time{} }
