package nicinfo

import (
	"context"
	"net"
	"net/netip"
	"path"
	"slices"
)

// Info is the guest's network state as the system reports it: every
// interface (loopback and down ones too), the main routing table and the
// resolver's configuration. It is the result of guest.nicinfo; V3 turns
// it into what the VMX is sent.
type Info struct {
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes,omitempty"`
	DNS        DNS         `json:"dns,omitzero"`
}

// Interface is one network interface.
type Interface struct {
	Index    int    `json:"index"`
	Name     string `json:"name"`
	MAC      string `json:"mac,omitempty"` // "aa:bb:cc:dd:ee:ff"
	MTU      int    `json:"mtu,omitempty"`
	Up       bool   `json:"up"`
	Loopback bool   `json:"loopback,omitempty"`
	Addrs    []Addr `json:"addrs,omitempty"`
}

// Addr is an address of an interface with its prefix length, and its
// origin and status as far as the system tells (zero: not told).
type Addr struct {
	IP        netip.Addr `json:"ip"`
	PrefixLen int        `json:"prefixLen"`
	Origin    Origin     `json:"origin,omitempty"`
	Status    Status     `json:"status,omitempty"`
}

// Route is a route of the main table.
type Route struct {
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	IfIndex int          `json:"ifIndex"`
	Type    RouteType    `json:"type,omitempty"`
	Metric  uint32       `json:"metric"`
}

// DNS is the resolver's configuration: the host name (gethostname), the
// domain, name servers and search suffixes (resolv.conf, read as glibc's
// res_init does).
type DNS struct {
	HostName   string       `json:"hostName,omitempty"`
	DomainName string       `json:"domainName,omitempty"`
	Servers    []netip.Addr `json:"servers,omitempty"`
	Search     []string     `json:"search,omitempty"`
}

// Select chooses and orders the NICs reported to the VMX, like OVT's
// exclude-nics, primary-nics and low-priority-nics settings: patterns
// as path.Match takes them ("docker*").
type Select struct {
	// Exclude leaves matching interfaces out; nil means DefaultExclude,
	// an empty non-nil slice excludes nothing.
	Exclude []string
	// Primary interfaces come first, LowPriority ones last.
	Primary     []string
	LowPriority []string
}

// DefaultExclude returns OVT's default exclude-nics on Linux
// (GUESTINFO_DEFAULT_IFACE_EXCLUDES).
func DefaultExclude() []string {
	return []string{"docker*", "veth*", "virbr*", "antrea-*", "cali*"}
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (s Select) excluded(name string) bool {
	ex := s.Exclude
	if ex == nil {
		ex = DefaultExclude()
	}
	return matchAny(ex, name)
}

const (
	priPrimary = iota
	priNormal
	priLow
	numPri
)

func (s Select) priority(name string) int {
	switch {
	case matchAny(s.Primary, name):
		return priPrimary
	case matchAny(s.LowPriority, name):
		return priLow
	}
	return priNormal
}

// V3 returns what OVT would report for in: up, non-loopback, non-excluded
// interfaces with an Ethernet address, primary ones first, each with its
// addresses except loopback ones (at most 16 NICs of 2048 addresses);
// the routes through those NICs, IPv4 first (at most 100); and the
// resolver's configuration.
func (in *Info) V3(sel Select) *NicInfoV3 {
	v := &NicInfoV3{}
	pos := map[int]uint32{} // interface index → position in v.Nics
	for pri := range numPri {
		for _, ifc := range in.Interfaces {
			if len(v.Nics) == MaxNICs {
				break
			}
			mac, err := net.ParseMAC(ifc.MAC)
			if !ifc.Up || ifc.Loopback || err != nil || len(mac) != 6 ||
				sel.excluded(ifc.Name) || sel.priority(ifc.Name) != pri {
				continue
			}
			if _, dup := pos[ifc.Index]; dup {
				continue
			}
			nic := GuestNicV3{MacAddress: mac.String()}
			for _, a := range ifc.Addrs {
				if !a.IP.IsValid() || a.IP.Unmap().IsLoopback() {
					continue
				}
				if len(nic.IPs) == MaxIPs {
					break
				}
				nic.IPs = append(nic.IPs, a.entry())
			}
			pos[ifc.Index] = uint32(len(v.Nics))
			v.Nics = append(v.Nics, nic)
		}
	}
	routes := slices.Clone(in.Routes)
	slices.SortStableFunc(routes, func(a, b Route) int { return boolInt(!a.Dst.Addr().Is4()) - boolInt(!b.Dst.Addr().Is4()) })
	for _, r := range routes {
		i, ok := pos[r.IfIndex]
		if !ok || !r.Dst.IsValid() {
			continue
		}
		if len(v.Routes) == MaxRoutes {
			break
		}
		v.Routes = append(v.Routes, r.entry(i))
	}
	if d, ok := in.DNS.v3(); ok {
		v.DNSConfigInfo = []DNSConfigInfo{d}
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func typed(a netip.Addr) TypedIPAddress {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return TypedIPAddress{Type: IATIPv4, Address: b[:]}
	}
	b := a.As16()
	return TypedIPAddress{Type: IATIPv6, Address: b[:]}
}

func (a Addr) entry() IPAddressEntry {
	e := IPAddressEntry{Address: typed(a.IP), PrefixLength: uint32(max(a.PrefixLen, 0))}
	if a.Origin != 0 {
		e.Origin = []Origin{a.Origin}
	}
	st := a.Status
	if st == 0 { // OVT's GuestInfoAddIpAddress defaults
		st = StatusUnknown
		if a.IP.Unmap().Is4() {
			st = StatusPreferred
		}
	}
	e.Status = []Status{st}
	return e
}

func (r Route) entry(nic uint32) InetCidrRouteEntry {
	e := InetCidrRouteEntry{
		Dest:         typed(r.Dst.Addr()),
		PrefixLength: uint32(r.Dst.Bits()),
		IfIndex:      nic,
		Type:         r.Type,
		Metric:       r.Metric,
	}
	if r.Gateway.IsValid() && !r.Gateway.IsUnspecified() {
		e.NextHop = []TypedIPAddress{typed(r.Gateway)}
	}
	return e
}

// v3 is OVT's RecordResolverInfo: the host name and the domain (even
// empty) are always present, then up to 16 servers and 10 suffixes.
// Names longer than nicinfo.x allows are left out.
func (d DNS) v3() (DNSConfigInfo, bool) {
	if d.HostName == "" && d.DomainName == "" && len(d.Servers) == 0 && len(d.Search) == 0 {
		return DNSConfigInfo{}, false
	}
	var c DNSConfigInfo
	if len(d.HostName) <= MaxDNSNameLen {
		c.HostName = []string{d.HostName}
	}
	if len(d.DomainName) <= MaxDNSNameLen {
		c.DomainName = []string{d.DomainName}
	}
	for _, s := range d.Servers {
		if len(c.Servers) == MaxDNSServers {
			break
		}
		if s.IsValid() {
			c.Servers = append(c.Servers, typed(s))
		}
	}
	for _, s := range d.Search {
		if len(c.SearchSuffixes) == MaxDNSSuffixes {
			break
		}
		if s != "" && len(s) <= MaxDNSNameLen {
			c.SearchSuffixes = append(c.SearchSuffixes, s)
		}
	}
	return c, true
}

// PrimaryIP is the address OVT reports as guestinfo.ip (nicInfoPosix.c
// GuestInfoGetPrimaryIP): among up, non-loopback, non-excluded
// interfaces, the first usable IPv4 address (not 127.0.0.1 or 0.0.0.0),
// else the first global IPv6 one (not loopback, link-local, site-local,
// unique-local or unspecified), preferring a primary interface and
// avoiding a low-priority one. It is "" when there is none, as in OVT.
func (in *Info) PrimaryIP(sel Select) string {
	best, bestPri := "", numPri
	for _, want4 := range []bool{true, false} {
		for _, ifc := range in.Interfaces {
			if !ifc.Up || ifc.Loopback || sel.excluded(ifc.Name) {
				continue
			}
			pri := sel.priority(ifc.Name)
			if pri >= bestPri {
				continue
			}
			for _, a := range ifc.Addrs {
				ip := a.IP.Unmap()
				if ip.Is4() == want4 && usablePrimary(ip) {
					best, bestPri = ip.WithZone("").String(), pri
					break
				}
			}
		}
	}
	return best
}

func usablePrimary(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() {
		return false
	}
	if ip.Is4() {
		return ip != netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsPrivate() && !isSiteLocal(ip)
}

// isSiteLocal reports fec0::/10 (IN6_IS_ADDR_SITELOCAL).
func isSiteLocal(ip netip.Addr) bool {
	b := ip.As16()
	return b[0] == 0xfe && b[1]&0xc0 == 0xc0
}

// Collect reads the guest's network state: on Linux over netlink (with
// each address's origin and status), elsewhere what net.Interfaces
// gives; DNS from resolv.conf where there is one.
func Collect(ctx context.Context) (*Info, error) { return collect(ctx, defaultResolvPaths()) }
