package power

import (
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Supported reports whether op can be done here.
func Supported(op Op) bool {
	switch op {
	case Halt, Reboot:
		return true
	case Suspend:
		_, err := os.Stat("/sys/power/state")
		return err == nil
	}
	return false
}

// Default performs op: directly with reboot(2) when this process is PID 1
// (no init to ask), through the system's init otherwise.
func Default(op Op) error {
	if os.Getpid() == 1 {
		unix.Sync()
		switch op {
		case Halt:
			return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		case Reboot:
			return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		}
	}
	switch op {
	case Halt:
		return exec.Command("poweroff").Run()
	case Reboot:
		return exec.Command("reboot").Run()
	case Suspend:
		unix.Sync()
		return os.WriteFile("/sys/power/state", []byte("mem"), 0)
	}
	return unsupported(op)
}
