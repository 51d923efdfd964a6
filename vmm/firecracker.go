package vmm

import (
	"encoding/json"
	"fmt"
)

// firecrackerConfig is the subset of Firecracker's --config-file schema
// a Config maps to.
type firecrackerConfig struct {
	BootSource struct {
		Kernel   string `json:"kernel_image_path"`
		Initrd   string `json:"initrd_path"`
		BootArgs string `json:"boot_args"`
	} `json:"boot-source"`
	Drives  []struct{} `json:"drives"`
	Machine struct {
		VCPUs  int  `json:"vcpu_count"`
		MemMiB int  `json:"mem_size_mib"`
		SMT    bool `json:"smt"`
	} `json:"machine-config"`
	Vsock struct {
		GuestCID uint32 `json:"guest_cid"`
		UDSPath  string `json:"uds_path"`
	} `json:"vsock"`
}

// FirecrackerConfig returns the JSON for `firecracker --no-api
// --config-file FILE` equivalent to c: Kernel (an uncompressed vmlinux)
// and Initrd with the serial console on Firecracker's stdout, and a
// vsock device whose host side is the unix socket VsockSocket(): the
// agent is then at "hybrid:VSOCKSOCKET:5100" (see FirecrackerTarget).
// Firecracker has no virtio-console, so Ports must be empty.
func FirecrackerConfig(c Config) ([]byte, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Ports) > 0 {
		return nil, fmt.Errorf("%w: Firecracker has no virtio-console for Ports %q", ErrUnsupported, c.Ports)
	}
	var f firecrackerConfig
	f.BootSource.Kernel = c.Kernel
	f.BootSource.Initrd = c.Initrd
	f.BootSource.BootArgs = "reboot=k pci=off " + c.KernelCmdline("ttyS0")
	f.Drives = []struct{}{}
	f.Machine.VCPUs = c.CPUs
	f.Machine.MemMiB = c.MemoryMiB
	f.Vsock.GuestCID = c.vsockCID()
	f.Vsock.UDSPath = c.VsockSocket()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("vmm: encode firecracker config: %w", err)
	}
	return append(b, '\n'), nil
}

// FirecrackerTarget is the guestrpc target of the agent in a VM started
// with FirecrackerConfig(c).
func FirecrackerTarget(c Config) string {
	return fmt.Sprintf("hybrid:%s:%d", c.VsockSocket(), AgentVsockPort)
}
