package qemu

import "syscall"

// qemuProcAttr puts QEMU in its own process group (so Kill reaches all of
// it) and kills it if the test binary dies first.
func qemuProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
