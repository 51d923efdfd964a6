package channel

// PeerInfo says who is at the other end of a channel, as far as its
// transport can tell. rpc uses it to decide who may connect (see
// rpc.Policy); handlers see it in rpc.Peer.
type PeerInfo struct {
	// Transport names what carries the channel: "unix", "tcp", "vsock",
	// "virtio", "vmware-tclo", or "" for a channel the program built itself (a pipe, a
	// test), which the program vouches for.
	Transport string
	// HasCred reports whether UID, GID and PID hold the peer's
	// credentials, as the kernel recorded them when it connected
	// (SO_PEERCRED on a unix socket).
	HasCred bool
	UID     uint32
	GID     uint32
	PID     int32
	// HasCID reports whether CID holds the peer's vsock context ID.
	HasCID bool
	CID    uint32
}

// Transport names used in PeerInfo.
const (
	TransportUnix   = "unix"
	TransportTCP    = "tcp"
	TransportVsock  = "vsock"
	TransportVirtio = "virtio"
	// TransportVMware is VMware's TCLO command loop over the backdoor,
	// the hypervisor's own channel like virtio-console.
	TransportVMware = "vmware-tclo"
)

// PeerIdentifier is implemented by channels that know who their peer is.
type PeerIdentifier interface {
	PeerInfo() PeerInfo
}

// PeerOf returns what ch knows of its peer; the zero PeerInfo when it
// does not implement PeerIdentifier.
func PeerOf(ch Channel) PeerInfo {
	if p, ok := ch.(PeerIdentifier); ok {
		return p.PeerInfo()
	}
	return PeerInfo{}
}
