package nicinfo

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecode: no input panics or is accepted beyond nicinfo.x's limits,
// and whatever decodes encodes again to a value that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, g := range goldens() {
		f.Add(g.want)
	}
	f.Add(xb{}.u32(3, 0).bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		if err := withinLimits(v); err != nil {
			t.Fatalf("Decode accepted %x: %v", b, err)
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("decoded %x, but Encode refuses the result: %v", b, err)
		}
		// A proto without its body decodes as an empty body; otherwise
		// only padding bytes may differ (rpcgen ignores them).
		if absent := binary.BigEndian.Uint32(b[4:]) == 0; !absent && len(enc) != len(b) {
			t.Fatalf("decoded %d bytes, encoded %d", len(b), len(enc))
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("decode, encode, decode (-first +second):\n%s", diff)
		}
	})
}

// withinLimits checks nicinfo.x's limits on a decoded value, apart from
// the walker that Decode and Encode share.
func withinLimits(v *NicInfoV3) error {
	dns := func(ds []DNSConfigInfo) error {
		for _, d := range ds {
			if len(d.Servers) > MaxDNSServers || len(d.SearchSuffixes) > MaxDNSSuffixes || len(d.HostName) > 1 || len(d.DomainName) > 1 {
				return fmt.Errorf("DNS %+v beyond limits", d)
			}
			for _, s := range slices.Concat(d.HostName, d.DomainName, d.SearchSuffixes) {
				if len(s) > MaxDNSNameLen {
					return fmt.Errorf("a DNS name of %d bytes", len(s))
				}
			}
		}
		return nil
	}
	opts := func(d []DNSConfigInfo, w []WinsConfigInfo, h4, h6 []DhcpConfigInfo) error {
		if len(d) > 1 || len(w) > 1 || len(h4) > 1 || len(h6) > 1 {
			return fmt.Errorf("an optional with more than one element")
		}
		for _, h := range slices.Concat(h4, h6) {
			if len(h.Settings) > MaxDHCPConfigLen {
				return fmt.Errorf("DHCP settings of %d bytes", len(h.Settings))
			}
		}
		return dns(d)
	}
	if len(v.Nics) > MaxNICs || len(v.Routes) > MaxRoutes {
		return fmt.Errorf("%d NICs, %d routes", len(v.Nics), len(v.Routes))
	}
	for _, n := range v.Nics {
		if len(n.MacAddress) > MaxMACLen || len(n.IPs) > MaxIPs {
			return fmt.Errorf("NIC with a %d-byte MAC and %d IPs", len(n.MacAddress), len(n.IPs))
		}
		for _, ip := range n.IPs {
			if len(ip.Origin) > 1 || len(ip.Status) > 1 || len(ip.Address.Address) > MaxInetAddrLen {
				return fmt.Errorf("IP entry %+v beyond limits", ip)
			}
		}
		if err := opts(n.DNSConfigInfo, n.WinsConfigInfo, n.DhcpConfigV4, n.DhcpConfigV6); err != nil {
			return err
		}
	}
	for _, r := range v.Routes {
		if len(r.NextHop) > 1 || len(r.Dest.Address) > MaxInetAddrLen {
			return fmt.Errorf("route %+v beyond limits", r)
		}
	}
	return opts(v.DNSConfigInfo, v.WinsConfigInfo, v.DhcpConfigV4, v.DhcpConfigV6)
}
