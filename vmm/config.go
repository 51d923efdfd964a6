// Package vmm describes a small Linux VM running the guestrpc agent in one
// hypervisor-neutral Config, and turns it into the command line or
// configuration file each hypervisor wants: QEMU (package vmm/qemu, which
// also boots it), hyperkit (HyperkitArgs) and Firecracker
// (FirecrackerConfig).
//
// A VM keeps its runtime files in a state directory: the host end of
// every virtio-console port (PortSocket), the vsock socket where the
// hypervisor provides one (VsockSocket), and a JSON State file
// (WriteState, ReadState) naming the hypervisor process, so another
// program can find, check and stop it.
//
// Most users want vmm/qemu's Run, which builds the agent into an
// initramfs, boots it and returns a connected client.
package vmm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// AgentPort is the virtio-console port name the guest agent serves on
// (examples/init reads it from guestrpc.port= on the kernel command line).
const AgentPort = "org.guestrpc.0"

// AgentVsockPort is the vsock port examples/init serves on.
const AgentVsockPort = 5100

// Defaults of Config's zero fields.
const (
	DefaultCPUs      = 2
	DefaultMemoryMiB = 512
)

// ErrConfig reports an unusable Config; the message names the field.
var ErrConfig = errors.New("vmm: bad config")

// Config is one VM, independent of the hypervisor that runs it.
type Config struct {
	// Kernel is the kernel image (a bzImage/vmlinuz; Firecracker wants
	// an uncompressed vmlinux).
	Kernel string `json:"kernel"`
	// Initrd is the initramfs to boot (see vmm/qemu.BuildInitramfs).
	Initrd string `json:"initrd"`
	// Cmdline is appended to the kernel command line.
	Cmdline string `json:"cmdline,omitempty"`
	// CPUs is the number of virtual CPUs (default DefaultCPUs).
	CPUs int `json:"cpus"`
	// MemoryMiB is the guest's RAM (default DefaultMemoryMiB).
	MemoryMiB int `json:"memory_mib"`
	// StateDir holds the sockets and the state file. Required.
	StateDir string `json:"state_dir"`
	// Ports are extra virtio-console ports beside AgentPort, by name.
	Ports []string `json:"ports,omitempty"`
	// VsockCID, when non-zero, gives the guest a virtio-vsock device
	// with this context ID (3 or more).
	VsockCID uint32 `json:"vsock_cid,omitempty"`
}

// WithDefaults returns c with zero CPUs and MemoryMiB filled in.
func (c Config) WithDefaults() Config {
	if c.CPUs == 0 {
		c.CPUs = DefaultCPUs
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = DefaultMemoryMiB
	}
	return c
}

// Validate reports the first field that no hypervisor could use.
func (c Config) Validate() error {
	switch {
	case c.Kernel == "":
		return fmt.Errorf("%w: Kernel is empty", ErrConfig)
	case c.Initrd == "":
		return fmt.Errorf("%w: Initrd is empty", ErrConfig)
	case c.StateDir == "":
		return fmt.Errorf("%w: StateDir is empty", ErrConfig)
	case c.CPUs < 0 || c.CPUs > 255:
		return fmt.Errorf("%w: CPUs %d not in 1..255", ErrConfig, c.CPUs)
	case c.MemoryMiB < 0:
		return fmt.Errorf("%w: MemoryMiB %d is negative", ErrConfig, c.MemoryMiB)
	case c.VsockCID != 0 && c.VsockCID < 3:
		return fmt.Errorf("%w: VsockCID %d is reserved (use 3 or more)", ErrConfig, c.VsockCID)
	}
	for _, p := range c.Ports {
		if p == "" || p == AgentPort || strings.ContainsAny(p, ",=/ \t\n") {
			return fmt.Errorf("%w: port name %q (non-empty, not %s, no ',', '=', '/' or spaces)", ErrConfig, p, AgentPort)
		}
	}
	return nil
}

// KernelCmdline is the guest's full kernel command line: a serial
// console, the agent's port, and Cmdline.
func (c Config) KernelCmdline(console string) string {
	return strings.TrimSpace("console=" + console + " quiet panic=-1 guestrpc.port=" + AgentPort + " " + c.Cmdline)
}

// PortSocket is the host socket of the virtio-console port called name
// (AgentPort or one of Ports).
func (c Config) PortSocket(name string) string {
	if name == AgentPort {
		return filepath.Join(c.StateDir, "agent.sock")
	}
	return filepath.Join(c.StateDir, "port-"+name+".sock")
}

// VsockSocket is the host-side unix socket through which hyperkit and
// Firecracker expose the guest's vsock (the "hybrid" scheme: connect,
// write "CONNECT PORT\n"). QEMU's vhost-vsock has none.
func (c Config) VsockSocket() string {
	return filepath.Join(c.StateDir, "vsock.sock")
}
