package nicinfo_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"

	"github.com/guestrpc/guestrpc/nicinfo"
)

// Build what a VMware toolbox sends for a guest with one NIC: the NIC
// information for SetGuestInfo (with OVT's fallbacks should the VMX
// refuse it) and the guestinfo.ip answer to "Set_Option broadcastIP 1".
// A real guest gets its Info from nicinfo.Collect.
func Example() {
	info := &nicinfo.Info{
		Interfaces: []nicinfo.Interface{
			{Index: 1, Name: "lo", Up: true, Loopback: true,
				Addrs: []nicinfo.Addr{{IP: netip.MustParseAddr("127.0.0.1"), PrefixLen: 8}}},
			{Index: 2, Name: "eth0", MAC: "00:50:56:aa:bb:cc", Up: true,
				Addrs: []nicinfo.Addr{
					{IP: netip.MustParseAddr("192.168.1.10"), PrefixLen: 24, Origin: nicinfo.OriginDHCP},
					{IP: netip.MustParseAddr("2001:db8::10"), PrefixLen: 64},
				}},
		},
		Routes: []nicinfo.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), IfIndex: 2, Type: nicinfo.RouteRemote}},
		DNS:    nicinfo.DNS{HostName: "guest", DomainName: "example.com", Search: []string{"example.com"}},
	}
	v3 := info.V3(nicinfo.Select{})
	fmt.Println("NICs:", len(v3.Nics), v3.Nics[0].MacAddress, "routes:", len(v3.Routes))
	for m := nicinfo.MethodV3; m <= nicinfo.MethodV1; m++ {
		msg, err := nicinfo.NicInfoMessage(v3, m)
		if err != nil {
			fmt.Println(err)
			return
		}
		head := msg[:bytes.LastIndexByte(msg[:17], ' ')+1]
		fmt.Printf("%-16s %q + %d bytes\n", m, head, len(msg)-len(head))
	}
	fmt.Printf("%q\n", nicinfo.BroadcastIPMessage(info.PrimaryIP(nicinfo.Select{})))

	// Send it the way OVT does: the VMX here takes only IPADDRESS_V2.
	r := nicinfo.NewReporter()
	send := func(_ context.Context, msg []byte) ([]byte, error) {
		if string(msg[:17]) == "SetGuestInfo  10 " {
			return nil, fmt.Errorf("Unknown command")
		}
		return nil, nil
	}
	sent, err := r.SendNicInfo(context.Background(), send, v3, false)
	fmt.Println("sent:", sent, err, "by", r.Method())
	sent, err = r.SendNicInfo(context.Background(), send, v3, false)
	fmt.Println("unchanged, sent again:", sent, err)
	// Output:
	// NICs: 1 00:50:56:aa:bb:cc routes: 1
	// V3/IPADDRESS_V3  "SetGuestInfo  10 " + 252 bytes
	// V3/IPADDRESS_V2  "SetGuestInfo  9 " + 252 bytes
	// V2/IPADDRESS_V2  "SetGuestInfo  9 " + 1128 bytes
	// V1/IPADDRESS     "SetGuestInfo  2 " + 2436 bytes
	// "info-set guestinfo.ip 192.168.1.10\x00"
	// sent: true <nil> by V3/IPADDRESS_V2
	// unchanged, sent again: false <nil>
}
