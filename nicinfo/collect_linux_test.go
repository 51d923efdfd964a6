package nicinfo

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestCollectMatchesNetInterfaces checks the netlink collection against
// what the standard library reads from the same kernel, and the things
// every Linux machine has: an up loopback interface holding 127.0.0.1/8.
func TestCollectMatchesNetInterfaces(t *testing.T) {
	info, err := Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		Index        int
		Name, MAC    string
		Up, Loopback bool
		Addrs        []netip.Prefix
	}
	var got, want []brief
	for _, ifc := range info.Interfaces {
		b := brief{ifc.Index, ifc.Name, ifc.MAC, ifc.Up, ifc.Loopback, nil}
		for _, a := range ifc.Addrs {
			b.Addrs = append(b.Addrs, netip.PrefixFrom(a.IP, a.PrefixLen))
		}
		got = append(got, b)
	}
	nifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, nif := range nifs {
		b := brief{nif.Index, nif.Name, nif.HardwareAddr.String(), nif.Flags&net.FlagUp != 0, nif.Flags&net.FlagLoopback != 0, nil}
		addrs, err := nif.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			n := a.(*net.IPNet)
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			b.Addrs = append(b.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
		}
		want = append(want, b)
	}
	sortPrefixes := cmpopts.SortSlices(func(a, b netip.Prefix) bool { return a.String() < b.String() })
	if diff := cmp.Diff(want, got, sortPrefixes, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Collect against net.Interfaces (-want +got):\n%s", diff)
	}

	lo := slices.IndexFunc(info.Interfaces, func(i Interface) bool { return i.Loopback })
	if lo < 0 || !info.Interfaces[lo].Up {
		t.Fatalf("no up loopback interface in %+v", info.Interfaces)
	}
	has := slices.ContainsFunc(info.Interfaces[lo].Addrs, func(a Addr) bool {
		return a.IP == netip.MustParseAddr("127.0.0.1") && a.PrefixLen == 8 && a.Status == StatusPreferred
	})
	if !has {
		t.Errorf("loopback addresses %+v: no preferred 127.0.0.1/8", info.Interfaces[lo].Addrs)
	}
	for _, r := range info.Routes {
		if r.IfIndex != 0 && !slices.ContainsFunc(info.Interfaces, func(i Interface) bool { return i.Index == r.IfIndex }) {
			t.Errorf("route %+v names no interface", r)
		}
	}

	v := info.V3(Select{})
	for _, n := range v.Nics {
		for _, ip := range n.IPs {
			if a, _ := netip.AddrFromSlice(ip.Address.Address); a.IsLoopback() {
				t.Errorf("a loopback address is reported: %+v", n)
			}
		}
	}
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip of this machine's NicInfo (-want +got):\n%s", diff)
	}
	t.Logf("this machine: %d interfaces, %d routes; V3 %d NICs, %d XDR bytes; primary IP %q",
		len(info.Interfaces), len(info.Routes), len(v.Nics), len(b), info.PrimaryIP(Select{}))
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Collect(ctx); err == nil {
		t.Fatal("Collect with a canceled context: no error")
	}
}

func TestOriginStatus(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		ip     netip.Addr
		flags  uint32
		proto  byte
		origin Origin
		status Status
	}{
		{a("192.168.1.10"), 0x80, 0, OriginManual, StatusPreferred}, // permanent
		{a("192.168.1.10"), 0, 0, OriginDHCP, StatusPreferred},      // with a lifetime
		{a("2001:db8::1"), 0x01, 0, OriginRandom, StatusPreferred},  // temporary
		{a("2001:db8::1"), 0, ifaProtoKernRA, OriginLinkLayer, StatusPreferred},
		{a("2001:db8::1"), 0, 0, 0, StatusPreferred}, // IPv6 with a lifetime: not told
		{a("fe80::1"), 0x80 | 0x40, 0, OriginLinkLayer, StatusTentative},
		{a("2001:db8::1"), 0x80 | 0x08 | 0x40, 0, OriginManual, StatusDuplicate},
		{a("2001:db8::1"), 0x80 | 0x04 | 0x40, 0, OriginManual, StatusOptimistic},
		{a("2001:db8::1"), 0x20, 0, 0, StatusDeprecated},
		{a("::1"), 0x80, ifaProtoKernLo, OriginOther, StatusPreferred},
	}
	for _, tt := range tests {
		if o, s := origin(tt.ip, tt.flags, tt.proto), status(tt.flags); o != tt.origin || s != tt.status {
			t.Errorf("%v flags %#x proto %d: %v, %v; want %v, %v", tt.ip, tt.flags, tt.proto, o, s, tt.origin, tt.status)
		}
	}
}
