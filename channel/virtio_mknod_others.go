//go:build !linux

package channel

import "errors"

// mknodFromSysfs is Linux-only: only Linux has /sys/class/virtio-ports.
func mknodFromSysfs(path, devFile string) error { return errors.ErrUnsupported }
