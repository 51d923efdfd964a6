// Package forward forwards connections into the guest, as
// `kubectl port-forward` does: the guest-side Service serves net.dial,
// and the host-side Client.Dial returns a net.Conn to an address as seen
// from inside the guest, so
//
//	&http.Transport{DialContext: forward.NewClient(c).Dial}
//
// is an http.RoundTripper into the guest.
//
// NewService is for programs that assemble their own rpc.Server:
// Register adds net.dial, Close ends what it forwards. agent.New
// registers a Service for you (Agent.Forward). NewClient is for hosts;
// `guestrpc forward` is a command built on it.
//
// # The method
//
//	net.dial  streaming; args: {"network": "tcp", "address": "127.0.0.1:80"}
//
// The agent dials a "tcp", "tcp4", "tcp6" or "unix" address and pipes
// lane 0 both ways; half-close is forwarded as CloseWrite. Once
// connected it sends {"type":"connected"} as one DATA frame on lane 2. A
// dial that fails ends the call with Unavailable; a bad network or an
// empty address with InvalidArgument.
//
// # Security
//
// net.dial reaches whatever the agent can: services bound to the guest's
// loopback that trust local connections, unix sockets only root may open,
// networks the host cannot reach. It is gated like every method by the
// server's rpc.Policy: refuse it with --block-rpcs net.dial (or leave it
// out of --allow-rpcs, or a listener's allow=) where a peer should not
// have that reach. See SECURITY.md.
package forward
