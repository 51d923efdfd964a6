package nicinfo

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Key is a GuestInfoType (open-vm-tools lib/include/guestInfo.h), the
// number after "SetGuestInfo  ".
type Key int

// Keys.
const (
	KeyDNSName     Key = 1
	KeyIPAddress   Key = 2 // NicInfo V1, a packed C struct
	KeyDiskFree    Key = 3
	KeyBuildNumber Key = 4
	KeyOSNameFull  Key = 5
	KeyOSName      Key = 6
	KeyUptime      Key = 7
	KeyMemory      Key = 8
	KeyIPAddressV2 Key = 9  // NicInfo V3 (at most 64 IPs per NIC) or V2 in XDR
	KeyIPAddressV3 Key = 10 // NicInfo V3 in XDR
	KeyOSDetailed  Key = 11
)

// guestInfoPrefix is GUEST_INFO_COMMAND and the key, as OVT writes it:
// "%s  %d " (guestInfoServer.c GuestInfoSendNicInfoXdr, SetGuestInfo).
func guestInfoPrefix(key Key) []byte {
	return []byte("SetGuestInfo  " + strconv.Itoa(int(key)) + " ")
}

// SetGuestInfoMessage returns the RPCI message that sets a key/value
// guest info: "SetGuestInfo  <key> <value>" and a NUL, as OVT's
// SetGuestInfo sends it (strlen + 1). A NUL inside value ends it there,
// as it would in C. The VMX replies with an empty result when it took
// the value.
func SetGuestInfoMessage(key Key, value string) []byte {
	if i := strings.IndexByte(value, 0); i >= 0 {
		value = value[:i]
	}
	msg := guestInfoPrefix(key)
	msg = append(msg, value...)
	return append(msg, 0)
}

// DNSNameMessage sets INFO_DNS_NAME: OVT sends gethostname(2)'s name.
func DNSNameMessage(hostname string) []byte { return SetGuestInfoMessage(KeyDNSName, hostname) }

// OSNameMessage sets INFO_OS_NAME, the short guest OS id ("other5xlinux-64").
func OSNameMessage(short string) []byte { return SetGuestInfoMessage(KeyOSName, short) }

// OSNameFullMessage sets INFO_OS_NAME_FULL, the readable OS name.
func OSNameFullMessage(full string) []byte { return SetGuestInfoMessage(KeyOSNameFull, full) }

// UptimeMessage sets INFO_UPTIME: the uptime in hundredths of a second,
// in decimal (OVT's System_Uptime; see Uptime).
func UptimeMessage(hundredths uint64) []byte {
	return SetGuestInfoMessage(KeyUptime, strconv.FormatUint(hundredths, 10))
}

// BroadcastIPMessage is what OVT sends for "Set_Option broadcastIP 1":
// "info-set guestinfo.ip <ip>" and a NUL (guestInfoServer.c
// GuestInfoServerSetOption). ip may be empty (no address found), as in
// OVT. See PrimaryIP.
func BroadcastIPMessage(ip string) []byte {
	return append([]byte("info-set guestinfo.ip "+ip), 0)
}

// Method is one of OVT's ways to send NIC information, tried in order
// until the VMX accepts one (guestInfoServer.c GuestInfoSendNicInfo).
type Method int

// Methods, in OVT's fallback order.
const (
	// MethodV3: GuestNicProto V3 as IPADDRESS_V3 (key 10).
	MethodV3 Method = iota
	// MethodV3AsV2: V3 with at most 64 IPs per NIC, as IPADDRESS_V2 (key 9).
	MethodV3AsV2
	// MethodV2: GuestNicProto V2 (GuestNicList, addresses as text), key 9.
	MethodV2
	// MethodV1: the packed GuestNicInfoV1 struct as IPADDRESS (key 2).
	MethodV1
)

func (m Method) String() string {
	switch m {
	case MethodV3:
		return "V3/IPADDRESS_V3"
	case MethodV3AsV2:
		return "V3/IPADDRESS_V2"
	case MethodV2:
		return "V2/IPADDRESS_V2"
	case MethodV1:
		return "V1/IPADDRESS"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// NicInfoMessage returns the RPCI message that sends v by method m:
// "SetGuestInfo  <key> " followed by the payload, with no NUL, exactly
// as OVT sends it.
func NicInfoMessage(v *NicInfoV3, m Method) ([]byte, error) {
	var (
		key     Key
		payload []byte
		err     error
	)
	switch m {
	case MethodV3:
		key = KeyIPAddressV3
		payload, err = Encode(v)
	case MethodV3AsV2:
		key = KeyIPAddressV2
		payload, err = encodeProto(&GuestNicProto{Version: NicInfoV3Version, V3: []NicInfoV3{truncateIPs(v)}}, MaxIPsV2)
	case MethodV2:
		key = KeyIPAddressV2
		t := truncateIPs(v)
		payload, err = encodeProto(toV2(&t), MaxIPsV2)
	case MethodV1:
		key, payload = KeyIPAddress, toV1(v)
	default:
		return nil, fmt.Errorf("nicinfo: unknown method %d", m)
	}
	if err != nil {
		return nil, err
	}
	return append(guestInfoPrefix(key), payload...), nil
}

// truncateIPs is OVT's GuestNicInfoV3ToV3_64: a shallow copy with at
// most 64 addresses per NIC.
func truncateIPs(v *NicInfoV3) NicInfoV3 {
	t := *v
	t.Nics = make([]GuestNicV3, len(v.Nics))
	for i, n := range v.Nics {
		if len(n.IPs) > MaxIPsV2 {
			n.IPs = n.IPs[:MaxIPsV2]
		}
		t.Nics[i] = n
	}
	return t
}

// V2 (nicinfo.x GuestNicList). rpcgen encodes "char x[N]" element by
// element, each char as a 4-byte XDR int; go-xdr does the same for a
// [N]uint8 tagged xdropaque:"false".
const (
	v2MACLen = 18 // NICINFO_MAC_LEN
	v2IPLen  = 64 // NICINFO_MAX_IP_LEN
	v2IPSize = 4 + 4 + 4*v2IPLen + 4*v2IPLen
)

type guestNicProtoV2 struct {
	Version NicInfoVersion
	List    []guestNicList // optional
}

type guestNicList struct{ Nics []guestNicV2 }

type guestNicV2 struct {
	MacAddress [v2MACLen]uint8 `xdropaque:"false"`
	IPs        []vmIPAddress
}

type vmIPAddress struct {
	AddressFamily int32          // NicInfoAddrType: IPv4 0, IPv6 1
	DhcpEnabled   int32          // Bool, xdr_char: always 0 from OVT's conversion
	IPAddress     [v2IPLen]uint8 `xdropaque:"false"`
	SubnetMask    [v2IPLen]uint8 `xdropaque:"false"` // the prefix length in decimal
}

// toV2 is OVT's NicInfoV3ToV2.
func toV2(v *NicInfoV3) *guestNicProtoV2 {
	l := guestNicList{Nics: make([]guestNicV2, len(v.Nics))}
	for i, n := range v.Nics {
		cstr(l.Nics[i].MacAddress[:], n.MacAddress)
		l.Nics[i].IPs = make([]vmIPAddress, len(n.IPs))
		for j, ip := range n.IPs {
			o := &l.Nics[i].IPs[j]
			if ip.Address.Type != IATIPv4 {
				o.AddressFamily = 1
			}
			if a, ok := netip.AddrFromSlice(ip.Address.Address); ok {
				cstr(o.IPAddress[:], a.String())
			}
			cstr(o.SubnetMask[:], strconv.FormatUint(uint64(ip.PrefixLength), 10))
		}
	}
	return &guestNicProtoV2{Version: NicInfoV2Version, List: []guestNicList{l}}
}

// cstr copies s into dst as a NUL-terminated C string, truncated to fit
// (Str_Strcpy would abort instead).
func cstr(dst []byte, s string) {
	n := copy(dst[:len(dst)-1], s)
	clear(dst[n:])
}

// V1 (guestInfo.h GuestNicInfoV1): a C struct in the guest's byte order
// (little-endian on every platform VMware runs), natural alignment.
const (
	v1MaxNICs    = 16                                    // MAX_NICS
	v1MaxIPs     = 8                                     // MAX_IPS
	v1MACSize    = 19                                    // MAC_ADDR_SIZE
	v1IPSize     = 16                                    // IP_ADDR_SIZE
	v1EntrySize  = 4 + v1MACSize + v1MaxIPs*v1IPSize + 1 // padded to 4: 152
	v1StructSize = 4 + v1MaxNICs*v1EntrySize             // 2436
)

// toV1 is OVT's GuestInfoConvertNicInfoToNicInfoV1: at most 16 NICs and
// their first 8 IPv4 addresses as text. Unlike OVT, addresses fill the
// slots 0..numIPs-1 in order (OVT indexes the slot by the address's
// position among all addresses, leaving holes after IPv6 ones), and
// unused bytes are zero (OVT leaves the stack's contents).
func toV1(v *NicInfoV3) []byte {
	b := make([]byte, v1StructSize)
	nics := v.Nics[:min(len(v.Nics), v1MaxNICs)]
	binary.LittleEndian.PutUint32(b, uint32(len(nics)))
	for i, n := range nics {
		e := b[4+i*v1EntrySize : 4+(i+1)*v1EntrySize]
		cstr(e[4:4+v1MACSize], n.MacAddress)
		count := 0
		for _, ip := range n.IPs {
			a, ok := netip.AddrFromSlice(ip.Address.Address)
			if ip.Address.Type != IATIPv4 || !ok || !a.Is4() {
				continue
			}
			off := 4 + v1MACSize + count*v1IPSize
			cstr(e[off:off+v1IPSize], a.String())
			if count++; count == v1MaxIPs {
				break
			}
		}
		binary.LittleEndian.PutUint32(e, uint32(count))
	}
	return b
}
