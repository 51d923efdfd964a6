package channel

import (
	"io"
	"net"

	"github.com/mdlayher/vsock"
)

// peerOfConn works out what rwc's transport says about its peer:
//
//   - a value implementing PeerIdentifier answers for itself;
//   - *net.UnixConn: "unix" with the credentials the kernel recorded at
//     connect time (SO_PEERCRED on Linux, LOCAL_PEERCRED on darwin and
//     FreeBSD; HasCred false where neither exists);
//   - *net.TCPConn, or any net.Conn whose remote address is a TCP one
//     (a *tls.Conn, say): "tcp";
//   - an AF_VSOCK connection (github.com/mdlayher/vsock): "vsock" with
//     the peer's context ID as the kernel reported it;
//   - a connection wrapping another (NetConn() net.Conn, as *tls.Conn
//     has) is looked through.
//
// Anything else (a pipe, a wrapper the program built) reports the zero
// PeerInfo: the program vouches for it.
func peerOfConn(rwc io.ReadWriteCloser) PeerInfo {
	for range 8 { // a bound on NetConn chains
		switch c := rwc.(type) {
		case PeerIdentifier:
			return c.PeerInfo()
		case *net.UnixConn:
			return unixPeer(c)
		case *net.TCPConn:
			return PeerInfo{Transport: TransportTCP}
		case net.Conn:
			if a, ok := c.RemoteAddr().(*vsock.Addr); ok {
				return PeerInfo{Transport: TransportVsock, HasCID: true, CID: a.ContextID}
			}
			if u, ok := c.(interface{ NetConn() net.Conn }); ok {
				rwc = u.NetConn()
				continue
			}
			if _, ok := c.RemoteAddr().(*net.TCPAddr); ok {
				return PeerInfo{Transport: TransportTCP}
			}
		}
		return PeerInfo{}
	}
	return PeerInfo{}
}

// unixPeer reads the peer credentials of c.
func unixPeer(c *net.UnixConn) PeerInfo {
	p := PeerInfo{Transport: TransportUnix}
	raw, err := c.SyscallConn()
	if err != nil {
		return p
	}
	var cerr error
	err = raw.Control(func(fd uintptr) {
		p.UID, p.GID, p.PID, cerr = peerCred(int(fd))
	})
	if err != nil || cerr != nil {
		return PeerInfo{Transport: TransportUnix}
	}
	p.HasCred = true
	return p
}

// PeerOfConn returns what rwc's transport says about its peer, as
// NewStream records it: unix credentials, a vsock CID, "tcp", or the zero
// PeerInfo for a connection the program built itself. Protocol adapters
// that serve another wire format on a connection use it to hand the peer
// on to an rpc.Server (see NewStreamPeer).
func PeerOfConn(rwc io.ReadWriteCloser) PeerInfo { return peerOfConn(rwc) }
