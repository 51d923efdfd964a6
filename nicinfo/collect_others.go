//go:build !linux

package nicinfo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// collect reads what net.Interfaces gives (no origin, status or routes)
// and resolv.conf where there is one.
func collect(ctx context.Context, p resolvPaths) (*Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ifcs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("nicinfo: %w", err)
	}
	info := &Info{}
	for _, nif := range ifcs {
		ifc := Interface{
			Index:    nif.Index,
			Name:     nif.Name,
			MTU:      nif.MTU,
			Up:       nif.Flags&net.FlagUp != 0,
			Loopback: nif.Flags&net.FlagLoopback != 0,
		}
		if len(nif.HardwareAddr) > 0 {
			ifc.MAC = nif.HardwareAddr.String()
		}
		addrs, err := nif.Addrs()
		if err != nil {
			return nil, fmt.Errorf("nicinfo: %s: %w", nif.Name, err)
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			ifc.Addrs = append(ifc.Addrs, Addr{IP: ip.Unmap(), PrefixLen: ones})
		}
		info.Interfaces = append(info.Interfaces, ifc)
	}
	if info.DNS, err = readDNS(p, hostname()); err != nil {
		return info, err
	}
	return info, nil
}

// Uptime is not implemented on this platform.
func Uptime() (uint64, error) { return 0, fmt.Errorf("nicinfo: uptime: %w", errors.ErrUnsupported) }
