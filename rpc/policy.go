package rpc

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
)

// HostCID is the vsock context ID of the host, the only vsock peer a
// Policy admits by default.
const HostCID = 2

// Policy decides who may connect and what they may call. The zero
// Policy is the safe default: unix peers running as root or as the
// agent's own user, vsock peers at the host CID, virtio-console and
// VMware's TCLO loop (the hypervisor's own devices), channels the
// program built itself, and TCP peers only with the token; every method
// may be called.
type Policy struct {
	// AllowUIDs and AllowGIDs admit unix-socket peers whose credentials
	// (SO_PEERCRED) match either list. Both nil: root and the agent's
	// own uid.
	AllowUIDs []uint32
	AllowGIDs []uint32
	// AllowCIDs admits vsock peers by context ID; nil: HostCID only.
	AllowCIDs []uint32
	// Token, when set, must be presented in the peer's HELLO on every
	// transport; compared in constant time. A TCP peer is refused when
	// no token is set, since any local user (or the network) can reach
	// a TCP port.
	Token []byte
	// Insecure admits every peer on every transport, token or not. For
	// tests; the server logs a warning for each connection.
	Insecure bool

	// Allow lists the methods that may be called, as path.Match globs
	// ("file.*", "sys.ping"); empty allows every method. Block lists
	// methods refused even when Allow matches them. The meaning is
	// QEMU guest agent's --allow-rpcs and --block-rpcs, with globs.
	Allow []string
	Block []string
}

func policyRefusal(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validate reports a malformed glob in Allow or Block.
func (p *Policy) Validate() error {
	for _, list := range [][]string{p.Allow, p.Block} {
		for _, g := range list {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				return fmt.Errorf("policy: method pattern %q: %w", g, ErrBadPattern)
			}
		}
	}
	return nil
}

// ErrBadPattern is returned by Policy.Validate for a method pattern that
// is not a valid glob.
var ErrBadPattern = errors.New("rpc: malformed method pattern")

// admit decides whether peer, which presented token in its HELLO, may
// connect. It returns the refusal as a status error.
func (p *Policy) admit(peer channel.PeerInfo, token []byte) *Error {
	if p.Insecure {
		return nil
	}
	if len(p.Token) > 0 {
		if subtle.ConstantTimeCompare(p.Token, token) != 1 {
			return policyRefusal(Unauthenticated, "this listener requires a token in HELLO; the peer's is missing or wrong")
		}
		return nil
	}
	switch peer.Transport {
	case channel.TransportUnix:
		if !peer.HasCred {
			return policyRefusal(PermissionDenied, "unix peer's credentials are unknown")
		}
		if p.AllowUIDs == nil && p.AllowGIDs == nil {
			if peer.UID == 0 || peer.UID == uint32(os.Getuid()) {
				return nil
			}
			return policyRefusal(PermissionDenied, "unix peer uid %d (pid %d) is neither root nor the agent's uid %d", peer.UID, peer.PID, os.Getuid())
		}
		if slices.Contains(p.AllowUIDs, peer.UID) || slices.Contains(p.AllowGIDs, peer.GID) {
			return nil
		}
		return policyRefusal(PermissionDenied, "unix peer uid %d gid %d (pid %d) is not in the allowed uids %v or gids %v", peer.UID, peer.GID, peer.PID, p.AllowUIDs, p.AllowGIDs)
	case channel.TransportVsock:
		allowed := p.AllowCIDs
		if allowed == nil {
			allowed = []uint32{HostCID}
		}
		if !peer.HasCID {
			return policyRefusal(PermissionDenied, "vsock peer's context ID is unknown")
		}
		if slices.Contains(allowed, peer.CID) {
			return nil
		}
		return policyRefusal(PermissionDenied, "vsock peer CID %d is not in the allowed CIDs %v", peer.CID, allowed)
	case channel.TransportTCP:
		return policyRefusal(PermissionDenied, "TCP peers need a token (any local user can reach a TCP port), and this listener has none")
	case channel.TransportVirtio, channel.TransportVMware, "":
		return nil
	}
	return policyRefusal(PermissionDenied, "transport %q has no admission rule", peer.Transport)
}

// allowsBytes is allows without a string conversion (and its
// allocation) when the policy restricts no method.
func (p *Policy) allowsBytes(method []byte) (bool, string) {
	if len(p.Allow) == 0 && len(p.Block) == 0 {
		return true, ""
	}
	return p.allows(string(method))
}

// allows reports whether method may be called, and why not.
func (p *Policy) allows(method string) (bool, string) {
	for _, g := range p.Block {
		if ok, _ := path.Match(g, method); ok {
			return false, fmt.Sprintf("method %q is blocked by pattern %q", method, g)
		}
	}
	if len(p.Allow) == 0 {
		return true, ""
	}
	for _, g := range p.Allow {
		if ok, _ := path.Match(g, method); ok {
			return true, ""
		}
	}
	return false, fmt.Sprintf("method %q is not in the allowed methods %s", method, strings.Join(p.Allow, ","))
}

// WithPolicy returns a Listener whose sessions are served under p
// instead of the server's ServerOptions.Policy, so that one transport can
// be limited to some methods or peers.
func WithPolicy(l channel.Listener, p Policy) channel.Listener {
	return &policyListener{Listener: l, policy: p}
}

type policyListener struct {
	channel.Listener
	policy Policy
}
