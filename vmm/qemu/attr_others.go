//go:build !linux

package qemu

import "syscall"

// qemuProcAttr puts QEMU in its own process group so Kill reaches all of it.
func qemuProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
