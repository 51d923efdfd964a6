package qemu

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/guestrpc/guestrpc/vmm"
)

// Config is one QEMU VM: the hypervisor-neutral vmm.Config plus what only
// QEMU has.
type Config struct {
	vmm.Config
	// QEMU is the qemu-system-x86_64 binary (default: the one on PATH).
	QEMU string
	// Accel is QEMU's accelerator: "tcg", "kvm", or "" to choose kvm
	// when /dev/kvm can be opened for reading and writing, else tcg.
	Accel string
	// VMPort turns on QEMU's VMware backdoor emulation (vmport=on).
	VMPort bool
	// Lifetime, when set, is a hard limit: QEMU is killed after it.
	Lifetime time.Duration
	// Logger receives Boot's notices (nil: none).
	Logger *slog.Logger
	// OnConsole, when set, is called with each line of the serial
	// console as it arrives (from one goroutine, in order).
	OnConsole func(line string)
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// accel resolves Accel's automatic choice.
func (c Config) accel() string {
	if c.Accel != "" {
		return c.Accel
	}
	return DetectAccel()
}

// DetectAccel returns "kvm" when /dev/kvm can be opened for reading and
// writing, else "tcg".
func DetectAccel() string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	return "kvm"
}

// Args returns QEMU's arguments (without argv[0]) for c, with Accel
// resolved: the kernel and initramfs, the serial console on stdio, a
// pvpanic device so a guest panic ends QEMU with status 1 (a power-off
// ends it with 0), the agent's port and each of Ports as a
// virtio-console port on a unix socket (vmm.Config.PortSocket), and with
// VsockCID a vhost-vsock device.
func Args(c Config) ([]string, error) {
	c.Config = c.Config.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	vmport := "off"
	if c.VMPort {
		vmport = "on"
	}
	args := []string{
		"-machine", "pc,accel=" + c.accel() + ",vmport=" + vmport,
		"-nodefaults", "-no-reboot", "-display", "none",
		"-device", "pvpanic-pci", "-action", "panic=exit-failure",
		"-m", fmt.Sprint(c.MemoryMiB), "-smp", fmt.Sprint(c.CPUs),
		"-kernel", c.Kernel, "-initrd", c.Initrd,
		"-append", c.KernelCmdline("ttyS0"),
		"-serial", "stdio",
		"-device", "virtio-serial",
	}
	ports := append([]string{vmm.AgentPort}, c.Ports...)
	for i, name := range ports {
		id := fmt.Sprintf("c%d", i)
		args = append(args, "-chardev", "socket,id="+id+",path="+c.PortSocket(name)+",server=on,wait=off",
			"-device", "virtserialport,chardev="+id+",name="+name)
	}
	if c.VsockCID != 0 {
		args = append(args, "-device", fmt.Sprintf("vhost-vsock-pci,guest-cid=%d", c.VsockCID))
	}
	return args, nil
}
