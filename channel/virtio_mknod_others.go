//go:build !linux

package channel

// mknodFromSysfs is Linux-only: only Linux has /sys/class/virtio-ports.
func mknodFromSysfs(path, devFile string) error { return ErrNotSupported }
