// Package nicinfo reports the guest's network state: to the VMware VMX
// as open-vm-tools (OVT) does, and natively as guest.nicinfo.
//
// Collect reads every interface (MAC, MTU, flags, addresses with their
// prefix length), the main routing table and the resolver's
// configuration. On Linux it asks the kernel over netlink, which also
// tells each address's status (preferred, deprecated, tentative,
// duplicate, optimistic) and, as far as the kernel knows, its origin
// (random for privacy addresses, linklayer for link-local and SLAAC ones,
// manual for addresses without a lifetime, dhcp for IPv4 addresses with
// one); elsewhere it uses net.Interfaces (no routes, origin or status).
// DNS comes from resolv.conf, read as glibc's res_init reads it, with
// systemd-resolved's upstream servers instead of its stub.
//
// Info.V3 turns that into GuestNicInfo V3 (lib/guestRpc/nicinfo.x) as
// OVT's guestInfo plugin builds it: up, non-loopback interfaces with an
// Ethernet address, minus OVT's default exclude-nics patterns. Encode and
// Decode speak its XDR through github.com/davecgh/go-xdr, with optionals
// as slices of zero or one element (the same bytes). Decode checks every
// count and length against nicinfo.x's limits and the input before
// anything is allocated.
//
// Messages for the RPCI channel, byte for byte as OVT sends them:
// NicInfoMessage ("SetGuestInfo  10 " and the XDR, with OVT's fallbacks
// as other Methods), SetGuestInfoMessage and its DNS_NAME, OS_NAME,
// OS_NAME_FULL and UPTIME shorthands, BroadcastIPMessage with
// Info.PrimaryIP. A Reporter sends only what changed since the VMX last
// accepted it and remembers which fallback worked; Reporter.Poll repeats
// OVT's gather round (OS names, DNS_NAME, NIC info, UPTIME) on a timer.
//
// Service serves the same data to any transport as guest.nicinfo (JSON).
//
// Deliberate differences from OVT: interfaces without a 6-byte hardware
// address (tun, wireguard) are left out where OVT reports them with
// 00:00:00:00:00:00; a route's type is RFC 4292's (local, remote,
// reject) where OVT leaves 0; routes come from the main table for IPv6
// too; up to 16 name servers are read (glibc keeps 3); LOCALDOMAIN is
// not consulted; the V1 fallback fills address slots in order and zeroes
// unused bytes.
package nicinfo
