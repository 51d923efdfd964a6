package nicinfo

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func addr(s string, origin Origin, status Status) Addr {
	p := netip.MustParsePrefix(s)
	return Addr{IP: p.Addr(), PrefixLen: p.Bits(), Origin: origin, Status: status}
}

// sample is a guest with a loopback, a down NIC, a docker bridge, a tun
// without MAC, and two Ethernet NICs listed low-index last.
func sample() *Info {
	return &Info{
		Interfaces: []Interface{
			{Index: 1, Name: "lo", MAC: "00:00:00:00:00:00", Up: true, Loopback: true,
				Addrs: []Addr{addr("127.0.0.1/8", OriginManual, StatusPreferred), addr("::1/128", 0, 0)}},
			{Index: 2, Name: "eth1", MAC: "00:50:56:00:00:02", Up: false, Addrs: []Addr{addr("10.9.9.9/24", 0, 0)}},
			{Index: 3, Name: "docker0", MAC: "02:42:00:00:00:01", Up: true, Addrs: []Addr{addr("172.17.0.1/16", 0, 0)}},
			{Index: 4, Name: "tun0", Up: true, Addrs: []Addr{addr("10.8.0.2/24", 0, 0)}},
			{Index: 5, Name: "eth0", MAC: "00:50:56:AA:BB:CC", Up: true, Addrs: []Addr{
				addr("fe80::250:56ff:feaa:bbcc/64", OriginLinkLayer, StatusPreferred),
				addr("192.168.1.10/24", OriginDHCP, 0),
				addr("127.0.0.2/8", 0, 0), // loopback address on a real NIC: left out
				addr("2001:db8::5/64", 0, StatusTentative),
			}},
			{Index: 6, Name: "ens7", MAC: "00:50:56:00:00:07", Up: true, Addrs: []Addr{addr("10.0.0.5/8", 0, 0)}},
		},
		Routes: []Route{
			{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("2001:db8::1"), IfIndex: 5, Type: RouteRemote, Metric: 1024},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), IfIndex: 5, Type: RouteRemote},
			{Dst: netip.MustParsePrefix("172.17.0.0/16"), IfIndex: 3, Type: RouteLocal}, // excluded NIC
			{Dst: netip.MustParsePrefix("10.0.0.0/8"), IfIndex: 6, Type: RouteLocal, Metric: 5},
		},
		DNS: DNS{HostName: "guest", DomainName: "example.com", Servers: []netip.Addr{netip.MustParseAddr("192.168.1.1")}, Search: []string{"example.com"}},
	}
}

func ipEntry(s string, origin []Origin, status Status) IPAddressEntry {
	p := netip.MustParsePrefix(s)
	return IPAddressEntry{Address: typed(p.Addr()), PrefixLength: uint32(p.Bits()), Origin: origin, Status: []Status{status}}
}

func TestV3FromInfo(t *testing.T) {
	eth0 := GuestNicV3{MacAddress: "00:50:56:aa:bb:cc", IPs: []IPAddressEntry{
		ipEntry("fe80::250:56ff:feaa:bbcc/64", []Origin{OriginLinkLayer}, StatusPreferred),
		ipEntry("192.168.1.10/24", []Origin{OriginDHCP}, StatusPreferred), // IPv4 default status
		ipEntry("2001:db8::5/64", nil, StatusTentative),
	}}
	ens7 := GuestNicV3{MacAddress: "00:50:56:00:00:07", IPs: []IPAddressEntry{ipEntry("10.0.0.5/8", nil, StatusPreferred)}}
	dns := []DNSConfigInfo{{HostName: []string{"guest"}, DomainName: []string{"example.com"},
		Servers: []TypedIPAddress{typed(netip.MustParseAddr("192.168.1.1"))}, SearchSuffixes: []string{"example.com"}}}
	route := func(dst, gw string, nic uint32, typ RouteType, metric uint32) InetCidrRouteEntry {
		p := netip.MustParsePrefix(dst)
		r := InetCidrRouteEntry{Dest: typed(p.Addr()), PrefixLength: uint32(p.Bits()), IfIndex: nic, Type: typ, Metric: metric}
		if gw != "" {
			r.NextHop = []TypedIPAddress{typed(netip.MustParseAddr(gw))}
		}
		return r
	}
	tests := []struct {
		name string
		sel  Select
		want *NicInfoV3
	}{
		{"defaults", Select{}, &NicInfoV3{
			Nics: []GuestNicV3{eth0, ens7},
			Routes: []InetCidrRouteEntry{ // IPv4 first, each naming its NIC's position
				route("0.0.0.0/0", "192.168.1.1", 0, RouteRemote, 0),
				route("10.0.0.0/8", "", 1, RouteLocal, 5),
				route("::/0", "2001:db8::1", 0, RouteRemote, 1024),
			},
			DNSConfigInfo: dns,
		}},
		{"primary ens7, nothing excluded", Select{Exclude: []string{}, Primary: []string{"ens*"}}, &NicInfoV3{
			Nics: []GuestNicV3{ens7, {MacAddress: "02:42:00:00:00:01", IPs: []IPAddressEntry{ipEntry("172.17.0.1/16", nil, StatusPreferred)}}, eth0},
			Routes: []InetCidrRouteEntry{
				route("0.0.0.0/0", "192.168.1.1", 2, RouteRemote, 0),
				route("172.17.0.0/16", "", 1, RouteLocal, 0),
				route("10.0.0.0/8", "", 0, RouteLocal, 5),
				route("::/0", "2001:db8::1", 2, RouteRemote, 1024),
			},
			DNSConfigInfo: dns,
		}},
		{"eth0 low priority", Select{LowPriority: []string{"eth0"}}, &NicInfoV3{
			Nics: []GuestNicV3{ens7, eth0},
			Routes: []InetCidrRouteEntry{
				route("0.0.0.0/0", "192.168.1.1", 1, RouteRemote, 0),
				route("10.0.0.0/8", "", 0, RouteLocal, 5),
				route("::/0", "2001:db8::1", 1, RouteRemote, 1024),
			},
			DNSConfigInfo: dns,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sample().V3(tt.sel)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("V3 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV3Limits(t *testing.T) {
	in := &Info{DNS: DNS{HostName: strings.Repeat("h", 256), Search: make([]string, 12)}}
	for i := range 20 {
		ifc := Interface{Index: i + 1, Name: "eth", MAC: "00:50:56:00:00:01", Up: true}
		for j := range 3000 {
			ifc.Addrs = append(ifc.Addrs, Addr{IP: netip.AddrFrom4([4]byte{10, byte(i), byte(j >> 8), byte(j)}), PrefixLen: 8})
		}
		in.Interfaces = append(in.Interfaces, ifc)
		for range 10 {
			in.Routes = append(in.Routes, Route{Dst: netip.MustParsePrefix("10.0.0.0/8"), IfIndex: i + 1})
		}
	}
	for i := range in.DNS.Search {
		in.DNS.Search[i] = "s.example"
	}
	v := in.V3(Select{})
	if len(v.Nics) != MaxNICs || len(v.Nics[0].IPs) != MaxIPs || len(v.Routes) != MaxRoutes {
		t.Fatalf("%d NICs, %d IPs, %d routes; want %d, %d, %d", len(v.Nics), len(v.Nics[0].IPs), len(v.Routes), MaxNICs, MaxIPs, MaxRoutes)
	}
	d := v.DNSConfigInfo[0]
	if len(d.HostName) != 0 || len(d.SearchSuffixes) != MaxDNSSuffixes {
		t.Fatalf("DNS: host %d, %d suffixes; want the overlong name left out and %d suffixes", len(d.HostName), len(d.SearchSuffixes), MaxDNSSuffixes)
	}
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the largest IPv4 message: %d bytes", len(b))
}

func TestPrimaryIP(t *testing.T) {
	up := func(name string, addrs ...string) Interface {
		ifc := Interface{Name: name, Up: true}
		for _, a := range addrs {
			ifc.Addrs = append(ifc.Addrs, addr(a, 0, 0))
		}
		return ifc
	}
	tests := []struct {
		name string
		ifcs []Interface
		sel  Select
		want string
	}{
		{"sample", sample().Interfaces, Select{}, "10.8.0.2"}, // tun0: a MAC is not needed here
		{"none", []Interface{up("eth0", "127.0.0.1/8", "fe80::1/64", "fd00::1/64", "fec0::1/64", "::/0", "0.0.0.0/0")}, Select{}, ""},
		{"IPv4 anywhere before IPv6", []Interface{up("eth0", "2001:db8::1/64"), up("eth1", "10.0.0.1/8")}, Select{}, "10.0.0.1"},
		{"a global IPv6", []Interface{up("eth0", "fe80::1/64", "2001:db8::1/64")}, Select{}, "2001:db8::1"},
		{"127.0.0.2 counts", []Interface{up("eth0", "127.0.0.2/8")}, Select{}, "127.0.0.2"},
		{"loopback interface", []Interface{{Name: "lo", Up: true, Loopback: true, Addrs: []Addr{addr("10.0.0.1/8", 0, 0)}}}, Select{}, ""},
		{"down interface", []Interface{{Name: "eth0", Addrs: []Addr{addr("10.0.0.1/8", 0, 0)}}}, Select{}, ""},
		{"excluded", []Interface{up("docker0", "172.17.0.1/16"), up("eth0", "2001:db8::1/64")}, Select{}, "2001:db8::1"},
		{"primary wins over IPv4", []Interface{up("eth0", "10.0.0.1/8"), up("eth1", "2001:db8::1/64")}, Select{Primary: []string{"eth1"}}, "2001:db8::1"},
		{"low priority last", []Interface{up("eth0", "10.0.0.1/8"), up("eth1", "10.0.0.2/8")}, Select{LowPriority: []string{"eth0"}}, "10.0.0.2"},
		{"mapped IPv4", []Interface{up("eth0", "::ffff:10.0.0.1/104")}, Select{}, "10.0.0.1"},
	}
	for _, tt := range tests {
		if got := (&Info{Interfaces: tt.ifcs}).PrimaryIP(tt.sel); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestReadDNS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := netip.MustParseAddr
	stub := write("stub-resolv.conf", "nameserver 127.0.0.53\nsearch lan\n")
	upstream := write("upstream.conf", "nameserver 192.168.1.1\nnameserver fe80::1%eth0\n")
	link := filepath.Join(dir, "resolv-link.conf")
	if err := os.Symlink(stub, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, conf, host string
		want             DNS
	}{
		{"search then domain: last wins", write("1.conf", "# comment\nsearch a.example b.example\n; more\ndomain c.example\nnameserver 10.0.0.1\nnameserver bogus\nnameserver 2001:db8::53\noptions ndots:2\n"), "h",
			DNS{HostName: "h", DomainName: "c.example", Search: []string{"c.example"}, Servers: []netip.Addr{a("10.0.0.1"), a("2001:db8::53")}}},
		{"search sets the domain", write("2.conf", "domain x.example\nsearch a.example b.example\n"), "h",
			DNS{HostName: "h", DomainName: "a.example", Search: []string{"a.example", "b.example"}}},
		{"neither: from the host name", write("3.conf", "nameserver 10.0.0.1\n"), "h.corp.example",
			DNS{HostName: "h.corp.example", DomainName: "corp.example", Search: []string{"corp.example"}, Servers: []netip.Addr{a("10.0.0.1")}}},
		{"missing file", filepath.Join(dir, "none"), "h", DNS{HostName: "h"}},
		{"systemd-resolved stub: upstream servers", link, "h",
			DNS{HostName: "h", DomainName: "lan", Search: []string{"lan"}, Servers: []netip.Addr{a("192.168.1.1"), a("fe80::1")}}},
		{"17 servers", write("4.conf", strings.Repeat("nameserver 10.0.0.1\n", 17)), "h",
			DNS{HostName: "h", Servers: slicesRepeat(a("10.0.0.1"), MaxDNSServers)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readDNS(resolvPaths{conf: tt.conf, stub: stub, upstream: upstream}, tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("readDNS (-want +got):\n%s", diff)
			}
		})
	}
}

func slicesRepeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestParseUptime(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"12345.67 54321.00\n", 1234567, true},
		{"5.7 1.0", 570, true},
		{"42 1", 4200, true},
		{"", 0, false},
		{"1.234 0", 0, false},
		{"x.1 0", 0, false},
		{"99999999999999999999.00 0", 0, false},
	}
	for _, tt := range tests {
		got, err := parseUptime(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseUptime(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
