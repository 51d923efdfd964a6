package backdoor

import "fmt"

// Detection is what Detect found.
type Detection struct {
	Hypervisor bool   // CPUID leaf 1, ECX bit 31
	Vendor     string // CPUID leaf 0x40000000, e.g. "VMwareVMware", "KVMKVMKVM", "TCGTCGTCGTCG"
	Backdoor   bool   // GETVERSION answered with the magic
	Version    uint32 // backdoor version (EAX of GETVERSION)
	Product    uint32 // product type (ECX of GETVERSION)
}

// ProductUnset is the Product of a VMX too old to report its type.
const ProductUnset = 0

// GetVersion issues the GETVERSION command on p. As vmcheck.c does, it
// loads EBX with something other than the magic and ECX's high word with
// 0xFFFF, a pattern no VMX type has: a VMX too old to set ECX leaves it
// there, and its product reads as ProductUnset.
func GetVersion(p Port) (version, product uint32, ok bool) {
	r := Regs{AX: Magic, BX: ^uint64(Magic) & 0xffffffff, CX: hilo(0xffff, CmdGetVersion), DX: LowBandwidthPort}
	p.InOut(&r)
	// A missing device reads all ones; a backdoor echoes the magic in EBX.
	if uint32(r.BX) != Magic || uint32(r.AX) == 0xffffffff {
		return 0, 0, false
	}
	if hi16(r.CX) == 0xffff {
		return uint32(r.AX), ProductUnset, true
	}
	return uint32(r.AX), uint32(r.CX), true
}

// detectWith is Detect with the CPU and port injected.
func detectWith(cpuid func(leaf uint32) (a, b, c, d uint32), openPort func() (Port, error)) (Detection, error) {
	var det Detection
	_, _, c, _ := cpuid(1)
	det.Hypervisor = c&(1<<31) != 0
	if !det.Hypervisor {
		return det, nil
	}
	_, b, c, d := cpuid(0x40000000)
	det.Vendor = vendorString(b, c, d)
	p, err := openPort()
	if err != nil {
		return det, fmt.Errorf("backdoor: opening the port for GETVERSION: %w", err)
	}
	defer p.Close()
	det.Version, det.Product, det.Backdoor = GetVersion(p)
	return det, nil
}

func vendorString(regs ...uint32) string {
	var b []byte
	for _, r := range regs {
		for i := 0; i < 4; i++ {
			if c := byte(r >> (8 * i)); c != 0 {
				b = append(b, c)
			}
		}
	}
	return string(b)
}
