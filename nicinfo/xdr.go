package nicinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	xdr "github.com/davecgh/go-xdr/xdr2"
)

// The types below mirror open-vm-tools' lib/guestRpc/nicinfo.x, field for
// field and in the same order, so that go-xdr's reflection encodes them
// as rpcgen's xdr_GuestNicProto does. An optional (*T in the .x file) is
// a slice of zero or one element: XDR writes an optional as a u32 0 or 1
// followed by T, which are the same bytes as a variable-length array of
// zero or one T.

// Limits from nicinfo.x. A message that exceeds one would be refused by
// the VMX's decoder; Encode refuses it first and Decode refuses it too.
const (
	MaxNICs          = 16    // NICINFO_MAX_NICS
	MaxIPs           = 2048  // NICINFO_MAX_IPS (V3 sent with IPADDRESS_V3)
	MaxIPsV2         = 64    // INFO_IPADDRESS_V2_MAX_IPS (V3 sent with IPADDRESS_V2)
	MaxRoutes        = 100   // NICINFO_MAX_ROUTES
	MaxDNSServers    = 16    // DNSINFO_MAX_SERVERS
	MaxDNSSuffixes   = 10    // DNSINFO_MAX_SUFFIXES
	MaxDNSNameLen    = 255   // DNSINFO_MAX_ADDRLEN
	MaxMACLen        = 18    // NICINFO_MAC_LEN
	MaxInetAddrLen   = 255   // INET_ADDRESS_MAX_LEN
	MaxDHCPConfigLen = 16384 // DHCP_MAX_CONFIG_SIZE
)

// MaxEncodedSize caps the XDR bytes Decode accepts. The largest message
// within nicinfo.x's limits that a guest can produce (16 NICs of 2048
// IPv6 addresses, 100 routes, full DNS) is about 1.5 MiB.
const MaxEncodedSize = 4 << 20

// NicInfoVersion is the discriminant of GuestNicProto.
type NicInfoVersion uint32

// Versions.
const (
	NicInfoV2Version NicInfoVersion = 2 // NIC_INFO_V2
	NicInfoV3Version NicInfoVersion = 3 // NIC_INFO_V3
)

// InetAddressType is RFC 4001's InetAddressType.
type InetAddressType int32

// Address types.
const (
	IATUnknown InetAddressType = 0
	IATIPv4    InetAddressType = 1
	IATIPv6    InetAddressType = 2
	IATIPv4z   InetAddressType = 3
	IATIPv6z   InetAddressType = 4
	IATDNS     InetAddressType = 16
)

// Origin is RFC 4293's IpAddressOriginTC; 0 means the system did not
// say, and no origin is sent.
type Origin int32

// Origins.
const (
	OriginOther     Origin = 1
	OriginManual    Origin = 2
	OriginDHCP      Origin = 4
	OriginLinkLayer Origin = 5
	OriginRandom    Origin = 6
)

// Status is RFC 4293's IpAddressStatusTC; 0 means the system did not
// say, and OVT's default is sent (IPv4 preferred, IPv6 unknown).
type Status int32

// Statuses.
const (
	StatusPreferred    Status = 1
	StatusDeprecated   Status = 2
	StatusInvalid      Status = 3
	StatusInaccessible Status = 4
	StatusUnknown      Status = 5
	StatusTentative    Status = 6
	StatusDuplicate    Status = 7
	StatusOptimistic   Status = 8
)

// RouteType is RFC 4292's InetCidrRouteType; 0 means not known.
type RouteType int32

// Route types.
const (
	RouteOther  RouteType = 1
	RouteReject RouteType = 2
	RouteLocal  RouteType = 3 // directly connected
	RouteRemote RouteType = 4 // through a next hop
)

// GuestNicProto is the union GuestNicProto switch (NicInfoVersion ver)
// for NIC_INFO_V3: the version, then an optional NicInfoV3.
type GuestNicProto struct {
	Version NicInfoVersion
	V3      []NicInfoV3 // optional
}

// NicInfoV3 models the guest's network state.
type NicInfoV3 struct {
	Nics           []GuestNicV3         // <MaxNICs>
	Routes         []InetCidrRouteEntry // <MaxRoutes>
	DNSConfigInfo  []DNSConfigInfo      // optional
	WinsConfigInfo []WinsConfigInfo     // optional
	DhcpConfigV4   []DhcpConfigInfo     // optional
	DhcpConfigV6   []DhcpConfigInfo     // optional
}

// GuestNicV3 describes one NIC.
type GuestNicV3 struct {
	MacAddress     string           // <MaxMACLen>, "aa:bb:cc:dd:ee:ff"
	IPs            []IPAddressEntry // <MaxIPs>
	DNSConfigInfo  []DNSConfigInfo  // optional
	WinsConfigInfo []WinsConfigInfo // optional
	DhcpConfigV4   []DhcpConfigInfo // optional
	DhcpConfigV6   []DhcpConfigInfo // optional
}

// TypedIPAddress is an address and its type (4 or 16 bytes for IPv4 and
// IPv6).
type TypedIPAddress struct {
	Type    InetAddressType
	Address []byte // opaque <MaxInetAddrLen>
}

// IPAddressEntry is RFC 4293's IpAddressEntry with the prefix length.
type IPAddressEntry struct {
	Address      TypedIPAddress
	PrefixLength uint32
	Origin       []Origin // optional
	Status       []Status // optional
}

// InetCidrRouteEntry is one route. IfIndex indexes NicInfoV3.Nics.
type InetCidrRouteEntry struct {
	Dest         TypedIPAddress
	PrefixLength uint32
	NextHop      []TypedIPAddress // optional
	IfIndex      uint32
	Type         RouteType
	Metric       uint32
}

// DNSConfigInfo is the resolver's state.
type DNSConfigInfo struct {
	HostName       []string         // optional, <MaxDNSNameLen>
	DomainName     []string         // optional, <MaxDNSNameLen>
	Servers        []TypedIPAddress // <MaxDNSServers>
	SearchSuffixes []string         // <MaxDNSSuffixes>, each <MaxDNSNameLen>
}

// WinsConfigInfo is a WINS configuration (Windows only; never collected
// here, decoded for completeness).
type WinsConfigInfo struct {
	Primary   TypedIPAddress
	Secondary TypedIPAddress
}

// DhcpConfigInfo is a DHCP configuration (never collected here).
type DhcpConfigInfo struct {
	Enabled  bool
	Settings string // <MaxDHCPConfigLen>
}

// ErrMalformed reports XDR bytes that do not follow nicinfo.x or exceed
// one of its limits.
var ErrMalformed = errors.New("nicinfo: malformed GuestNicProto")

// ErrTooLarge reports a message beyond nicinfo.x's limits (or
// MaxEncodedSize).
var ErrTooLarge = errors.New("nicinfo: beyond nicinfo.x's limits")

// Encode returns the XDR bytes of GuestNicProto V3 carrying v. It fails
// with ErrTooLarge when v exceeds a limit of nicinfo.x, which the VMX
// would refuse.
func Encode(v *NicInfoV3) ([]byte, error) {
	return encodeProto(&GuestNicProto{Version: NicInfoV3Version, V3: []NicInfoV3{*v}}, MaxIPs)
}

func encodeProto(p any, maxIPs uint32) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := xdr.Marshal(&buf, p); err != nil {
		return nil, fmt.Errorf("nicinfo: encode: %w", err)
	}
	// The walker checks every limit of nicinfo.x on what was written, so
	// nothing the VMX's rpcgen decoder would refuse leaves this package.
	w := walker{b: buf.Bytes(), maxIPs: maxIPs}
	if err := w.proto(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return buf.Bytes(), nil
}

// Decode parses GuestNicProto V3 bytes. It checks every count and length
// against nicinfo.x's limits and against the bytes left before anything
// is allocated, refuses trailing bytes, and never reads more than
// MaxEncodedSize. What it allocates is bounded by its input (about nine
// times the densest input, through go-xdr's reflection).
func Decode(b []byte) (*NicInfoV3, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(b), MaxEncodedSize)
	}
	if len(b) >= 4 && NicInfoVersion(binary.BigEndian.Uint32(b)) != NicInfoV3Version {
		return nil, fmt.Errorf("%w: version %d, want 3", ErrMalformed, binary.BigEndian.Uint32(b))
	}
	w := walker{b: b, maxIPs: MaxIPs}
	if err := w.proto(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if w.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-w.off)
	}
	var p GuestNicProto
	// Validated above: every count is bounded by the input, so go-xdr
	// allocates no more than a small multiple of len(b).
	if _, err := xdr.UnmarshalLimited(bytes.NewReader(b), &p, MaxDHCPConfigLen); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(p.V3) == 0 {
		return &NicInfoV3{}, nil
	}
	return &p.V3[0], nil
}
