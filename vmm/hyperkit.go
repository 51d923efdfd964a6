package vmm

import (
	"fmt"
	"path/filepath"
)

// DefaultVsockCID is the guest context ID hyperkit and Firecracker get
// when Config.VsockCID is zero: both reach the agent only over vsock.
const DefaultVsockCID = 3

// ErrUnsupported reports a Config feature the chosen hypervisor lacks.
var ErrUnsupported = fmt.Errorf("%w: not supported by this hypervisor", ErrConfig)

// HyperkitArgs returns hyperkit's arguments (without argv[0]) for c:
// kexec boot of Kernel and Initrd with the serial console on stdio,
// hyperkit's pid file in StateDir, and virtio-sock with StateDir as its
// socket directory, forwarding the agent's vsock port: the agent is then
// at the target "hyperkit:STATEDIR:CID:5100" (see HyperkitTarget).
// hyperkit has no virtio-console, so Ports must be empty.
func HyperkitArgs(c Config) ([]string, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Ports) > 0 {
		return nil, fmt.Errorf("%w: hyperkit has no virtio-console for Ports %q", ErrUnsupported, c.Ports)
	}
	return []string{"-A", "-u",
		"-F", filepath.Join(c.StateDir, "hyperkit.pid"),
		"-c", fmt.Sprint(c.CPUs),
		"-m", fmt.Sprintf("%dM", c.MemoryMiB),
		"-s", "0:0,hostbridge",
		"-s", "31,lpc",
		"-l", "com1,stdio",
		"-s", fmt.Sprintf("1,virtio-sock,guest_cid=%d,path=%s,guest_forwards=%d", c.vsockCID(), c.StateDir, AgentVsockPort),
		"-s", "2,virtio-rnd",
		"-f", fmt.Sprintf("kexec,%s,%s,earlyprintk=serial %s", c.Kernel, c.Initrd, c.KernelCmdline("ttyS0")),
	}, nil
}

// HyperkitTarget is the guestrpc target (transport.Dial, guestrpc --connect)
// of the agent in a VM started with HyperkitArgs(c).
func HyperkitTarget(c Config) string {
	return fmt.Sprintf("hyperkit:%s:%d:%d", c.StateDir, c.vsockCID(), AgentVsockPort)
}

func (c Config) vsockCID() uint32 {
	if c.VsockCID == 0 {
		return DefaultVsockCID
	}
	return c.VsockCID
}
