package nicinfo

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO (Linux 5.18): who added an address.
const (
	ifaProto        = 11
	ifaProtoKernLo  = 1
	ifaProtoKernRA  = 2
	ifaProtoKernLL  = 3
	maxNetlinkAttrs = 64 // attributes read per message; the rest are ignored
)

func collect(ctx context.Context, p resolvPaths) (*Info, error) {
	links, err := dump(ctx, unix.RTM_GETLINK, unix.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	info := &Info{}
	byIndex := map[int]int{}
	for _, m := range links {
		if ifc, ok := parseLink(m); ok {
			byIndex[ifc.Index] = len(info.Interfaces)
			info.Interfaces = append(info.Interfaces, ifc)
		}
	}
	addrs, err := dump(ctx, unix.RTM_GETADDR, unix.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	for _, m := range addrs {
		if idx, a, ok := parseAddr(m); ok {
			if i, known := byIndex[idx]; known {
				info.Interfaces[i].Addrs = append(info.Interfaces[i].Addrs, a)
			}
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		routes, err := dump(ctx, unix.RTM_GETROUTE, fam)
		if err != nil {
			return nil, err
		}
		for _, m := range routes {
			if r, ok := parseRoute(m); ok {
				info.Routes = append(info.Routes, r)
			}
		}
	}
	slices.SortStableFunc(info.Interfaces, func(a, b Interface) int { return a.Index - b.Index })
	if info.DNS, err = readDNS(p, hostname()); err != nil {
		return info, err
	}
	return info, nil
}

// dump asks the kernel for a whole table over netlink.
func dump(ctx context.Context, proto, family int) ([]syscall.NetlinkMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := syscall.NetlinkRIB(proto, family)
	if err != nil {
		return nil, fmt.Errorf("nicinfo: netlink dump %d: %w", proto, err)
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, fmt.Errorf("nicinfo: netlink dump %d: %w", proto, err)
	}
	for i, m := range msgs {
		switch m.Header.Type {
		case syscall.NLMSG_DONE:
			return msgs[:i], nil
		case syscall.NLMSG_ERROR:
			return nil, fmt.Errorf("nicinfo: netlink dump %d: kernel error", proto)
		}
	}
	return msgs, nil
}

func attrs(m *syscall.NetlinkMessage) map[uint16][]byte {
	as, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return nil
	}
	out := make(map[uint16][]byte, min(len(as), maxNetlinkAttrs))
	for _, a := range as[:min(len(as), maxNetlinkAttrs)] {
		out[a.Attr.Type] = a.Value
	}
	return out
}

func u32(b []byte) (uint32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(b), true
}

func parseLink(m syscall.NetlinkMessage) (Interface, bool) {
	if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
		return Interface{}, false
	}
	flags := binary.NativeEndian.Uint32(m.Data[8:])
	ifc := Interface{
		Index:    int(int32(binary.NativeEndian.Uint32(m.Data[4:]))),
		Up:       flags&unix.IFF_UP != 0,
		Loopback: flags&unix.IFF_LOOPBACK != 0,
	}
	a := attrs(&m)
	ifc.Name = strings.TrimRight(string(a[unix.IFLA_IFNAME]), "\x00")
	// An all-zero address (loopback) is none, as net.Interfaces has it.
	if hw := a[unix.IFLA_ADDRESS]; slices.ContainsFunc(hw, func(b byte) bool { return b != 0 }) {
		ifc.MAC = net.HardwareAddr(hw).String()
	}
	if mtu, ok := u32(a[unix.IFLA_MTU]); ok {
		ifc.MTU = int(mtu)
	}
	return ifc, true
}

func parseAddr(m syscall.NetlinkMessage) (int, Addr, bool) {
	if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
		return 0, Addr{}, false
	}
	prefix, flags := int(m.Data[1]), uint32(m.Data[2])
	idx := int(binary.NativeEndian.Uint32(m.Data[4:]))
	a := attrs(&m)
	raw := a[unix.IFA_LOCAL] // on point-to-point links IFA_ADDRESS is the peer
	if raw == nil {
		raw = a[unix.IFA_ADDRESS]
	}
	ip, ok := netip.AddrFromSlice(raw)
	if !ok {
		return 0, Addr{}, false
	}
	if f, ok := u32(a[unix.IFA_FLAGS]); ok {
		flags = f
	}
	var proto byte
	if p := a[ifaProto]; len(p) > 0 {
		proto = p[0]
	}
	return idx, Addr{IP: ip, PrefixLen: prefix, Origin: origin(ip, flags, proto), Status: status(flags)}, true
}

// origin is what Linux tells of where an address came from: a privacy
// address is random; one the kernel made from the link-layer address
// (link-local, or SLAAC when the kernel says so) is linklayer; one added
// with infinite lifetimes is manual; an IPv4 address with a lifetime can
// only come from a DHCP client. Otherwise it is not told.
func origin(ip netip.Addr, flags uint32, proto byte) Origin {
	switch {
	case flags&unix.IFA_F_TEMPORARY != 0 && ip.Is6():
		return OriginRandom
	case proto == ifaProtoKernLL || proto == ifaProtoKernRA || (ip.Is6() && ip.IsLinkLocalUnicast()):
		return OriginLinkLayer
	case proto == ifaProtoKernLo:
		return OriginOther
	case flags&unix.IFA_F_PERMANENT != 0:
		return OriginManual
	case ip.Is4():
		return OriginDHCP
	}
	return 0
}

func status(flags uint32) Status {
	switch {
	case flags&unix.IFA_F_DADFAILED != 0:
		return StatusDuplicate
	case flags&unix.IFA_F_OPTIMISTIC != 0:
		return StatusOptimistic
	case flags&unix.IFA_F_TENTATIVE != 0:
		return StatusTentative
	case flags&unix.IFA_F_DEPRECATED != 0:
		return StatusDeprecated
	}
	return StatusPreferred
}

func parseRoute(m syscall.NetlinkMessage) (Route, bool) {
	if m.Header.Type != syscall.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
		return Route{}, false
	}
	family, dstLen, table, typ := m.Data[0], int(m.Data[1]), uint32(m.Data[4]), m.Data[7]
	if binary.NativeEndian.Uint32(m.Data[8:])&unix.RTM_F_CLONED != 0 {
		return Route{}, false
	}
	a := attrs(&m)
	if t, ok := u32(a[unix.RTA_TABLE]); ok {
		table = t
	}
	if table != unix.RT_TABLE_MAIN {
		return Route{}, false
	}
	dst := netip.IPv4Unspecified()
	if family == unix.AF_INET6 {
		dst = netip.IPv6Unspecified()
	}
	if d, ok := netip.AddrFromSlice(a[unix.RTA_DST]); ok {
		dst = d
	}
	pfx, err := dst.Prefix(dstLen)
	if err != nil {
		return Route{}, false
	}
	r := Route{Dst: pfx}
	if gw, ok := netip.AddrFromSlice(a[unix.RTA_GATEWAY]); ok {
		r.Gateway = gw
	}
	if oif, ok := u32(a[unix.RTA_OIF]); ok {
		r.IfIndex = int(oif)
	}
	if metric, ok := u32(a[unix.RTA_PRIORITY]); ok {
		r.Metric = metric
	}
	r.Type = routeType(typ, r.Gateway.IsValid())
	return r, true
}

func routeType(typ byte, gateway bool) RouteType {
	switch typ {
	case unix.RTN_UNICAST:
		if gateway {
			return RouteRemote
		}
		return RouteLocal
	case unix.RTN_BLACKHOLE, unix.RTN_UNREACHABLE, unix.RTN_PROHIBIT:
		return RouteReject
	}
	return RouteOther
}

// Uptime returns the time since boot in hundredths of a second, as OVT's
// System_Uptime reads it from /proc/uptime.
func Uptime() (uint64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("nicinfo: uptime: %w", err)
	}
	return parseUptime(string(b))
}
