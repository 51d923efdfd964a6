package nicinfo

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// xb builds XDR by hand, one nicinfo.x field at a time, independently of
// go-xdr: big-endian u32s, and strings/opaques as a u32 length then the
// bytes zero-padded to a multiple of 4.
type xb []byte

func (b xb) u32(vs ...uint32) xb {
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func (b xb) str(s string) xb {
	b = b.u32(uint32(len(s)))
	b = append(b, s...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ip is a TypedIpAddress: InetAddressType, then opaque InetAddress.
func (b xb) ip(typ uint32, addr ...byte) xb { return b.u32(typ).str(string(addr)) }

func (b xb) bytes() []byte { return b }

var (
	v4a    = []byte{192, 168, 1, 10}
	v4gw   = []byte{192, 168, 1, 1}
	v6ll   = []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x50, 0x56, 0xff, 0xfe, 0xaa, 0xbb, 0xcc}
	v6dns  = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53}
	v4b    = []byte{10, 0, 0, 5}
	v6glob = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05}
	v6zero = make([]byte, 16)
	v6gw   = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}
)

// goldenZero: no NIC, no route; DNS with a host name and an empty domain.
func goldenZero() (*NicInfoV3, []byte) {
	v := &NicInfoV3{DNSConfigInfo: []DNSConfigInfo{{HostName: []string{"vm"}, DomainName: []string{""}}}}
	b := xb{}.u32(3, 1). // GuestNicProto: ver NIC_INFO_V3, *nicInfoV3 present
				u32(0).              // nics<16>: none
				u32(0).              // routes<100>: none
				u32(1).              // *dnsConfigInfo present
				u32(1).str("vm").    //   *hostName
				u32(1).str("").      //   *domainName, empty
				u32(0).              //   serverList<16>
				u32(0).              //   searchSuffixes<10>
				u32(0).u32(0).u32(0) // *winsConfigInfo, *dhcpConfigInfov4, *dhcpConfigInfov6 absent
	return v, b
}

// goldenOne: one NIC with an IPv4 and a link-local IPv6 address, a
// default route, and DNS with IPv4 and IPv6 servers and two suffixes.
func goldenOne() (*NicInfoV3, []byte) {
	v := &NicInfoV3{
		Nics: []GuestNicV3{{
			MacAddress: "00:50:56:aa:bb:cc",
			IPs: []IPAddressEntry{
				{Address: TypedIPAddress{IATIPv4, v4a}, PrefixLength: 24, Status: []Status{StatusPreferred}},
				{Address: TypedIPAddress{IATIPv6, v6ll}, PrefixLength: 64, Origin: []Origin{OriginLinkLayer}, Status: []Status{StatusUnknown}},
			},
		}},
		Routes: []InetCidrRouteEntry{{
			Dest: TypedIPAddress{IATIPv4, []byte{0, 0, 0, 0}}, NextHop: []TypedIPAddress{{IATIPv4, v4gw}},
			Type: RouteRemote, Metric: 100,
		}},
		DNSConfigInfo: []DNSConfigInfo{{
			HostName: []string{"guest"}, DomainName: []string{"example.com"},
			Servers:        []TypedIPAddress{{IATIPv4, v4gw}, {IATIPv6, v6dns}},
			SearchSuffixes: []string{"example.com", "corp.example.com"},
		}},
	}
	b := xb{}.u32(3, 1).
		u32(1).                                        // nics<16>: 1
		str("00:50:56:aa:bb:cc").                      //   macAddress<18>: 17 bytes + 3 pad
		u32(2).                                        //   ips<2048>: 2
		ip(1, v4a...).u32(24).u32(0).u32(1, 1).        //     IPv4 /24, no origin, status PREFERRED
		ip(2, v6ll...).u32(64).u32(1, 5).u32(1, 5).    //     IPv6 /64, origin LINKLAYER, status UNKNOWN
		u32(0, 0, 0, 0).                               //   dns, wins, dhcpv4, dhcpv6 absent
		u32(1).                                        // routes<100>: 1
		ip(1, 0, 0, 0, 0).u32(0).                      //   dest 0.0.0.0/0
		u32(1).ip(1, v4gw...).                         //   *nextHop 192.168.1.1
		u32(0).u32(4).u32(100).                        //   ifIndex 0, type REMOTE, metric 100
		u32(1).                                        // *dnsConfigInfo
		u32(1).str("guest").u32(1).str("example.com"). //   host, domain
		u32(2).ip(1, v4gw...).ip(2, v6dns...).         //   serverList
		u32(2).str("example.com").str("corp.example.com").
		u32(0, 0, 0)
	return v, b
}

// goldenTwo: two NICs, each with IPv4 and IPv6, one route per NIC (the
// second IPv6, with a next hop), DNS without a domain.
func goldenTwo() (*NicInfoV3, []byte) {
	v1, _ := goldenOne()
	v := &NicInfoV3{
		Nics: []GuestNicV3{v1.Nics[0], {
			MacAddress: "00:50:56:01:02:03",
			IPs: []IPAddressEntry{
				{Address: TypedIPAddress{IATIPv4, v4b}, PrefixLength: 8, Origin: []Origin{OriginManual}, Status: []Status{StatusPreferred}},
				{Address: TypedIPAddress{IATIPv6, v6glob}, PrefixLength: 64, Origin: []Origin{OriginRandom}, Status: []Status{StatusDeprecated}},
			},
		}},
		Routes: []InetCidrRouteEntry{
			{Dest: TypedIPAddress{IATIPv4, []byte{192, 168, 1, 0}}, PrefixLength: 24, Type: RouteLocal},
			{Dest: TypedIPAddress{IATIPv6, v6zero}, NextHop: []TypedIPAddress{{IATIPv6, v6gw}}, IfIndex: 1, Type: RouteRemote, Metric: 1024},
		},
		DNSConfigInfo: []DNSConfigInfo{{HostName: []string{"two"}, Servers: []TypedIPAddress{{IATIPv6, v6dns}}}},
	}
	b := xb{}.u32(3, 1).
		u32(2).
		str("00:50:56:aa:bb:cc").u32(2).
		ip(1, v4a...).u32(24).u32(0).u32(1, 1).
		ip(2, v6ll...).u32(64).u32(1, 5).u32(1, 5).
		u32(0, 0, 0, 0).
		str("00:50:56:01:02:03").u32(2).
		ip(1, v4b...).u32(8).u32(1, 2).u32(1, 1).     //     origin MANUAL, PREFERRED
		ip(2, v6glob...).u32(64).u32(1, 6).u32(1, 2). // origin RANDOM, DEPRECATED
		u32(0, 0, 0, 0).
		u32(2).                                            // routes
		ip(1, 192, 168, 1, 0).u32(24).u32(0).u32(0, 3, 0). // no next hop, NIC 0, LOCAL, metric 0
		ip(2, v6zero...).u32(0).u32(1).ip(2, v6gw...).u32(1, 4, 1024).
		u32(1).u32(1).str("two").u32(0). // host, no domain
		u32(1).ip(2, v6dns...).u32(0).
		u32(0, 0, 0)
	return v, b
}

func goldens() []struct {
	name string
	v    *NicInfoV3
	want []byte
} {
	var out []struct {
		name string
		v    *NicInfoV3
		want []byte
	}
	for _, g := range []struct {
		name string
		f    func() (*NicInfoV3, []byte)
	}{{"zero NICs", goldenZero}, {"one NIC", goldenOne}, {"two NICs", goldenTwo}} {
		v, b := g.f()
		out = append(out, struct {
			name string
			v    *NicInfoV3
			want []byte
		}{g.name, v, b})
	}
	return out
}

func TestEncodeGolden(t *testing.T) {
	for _, tt := range goldens() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Encode: %d bytes\n% x\nwant %d bytes\n% x", len(got), got, len(tt.want), tt.want)
			}
			msg, err := NicInfoMessage(tt.v, MethodV3)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]byte("SetGuestInfo  10 "), tt.want...); !bytes.Equal(msg, want) {
				t.Fatalf("NicInfoMessage V3:\n%q\nwant\n%q", msg, want)
			}
			t.Logf("%s: %d XDR bytes, %d message bytes", tt.name, len(got), len(msg))
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, tt := range goldens() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.v, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Decode (-want +got):\n%s", diff)
			}
			again, err := Encode(got)
			if err != nil || !bytes.Equal(again, tt.want) {
				t.Fatalf("re-encoding the decoded value: %v, %d bytes, want the %d golden ones", err, len(again), len(tt.want))
			}
		})
	}
}
