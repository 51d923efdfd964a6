package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// ListenConfig holds the settings for turning agent-side target strings
// into listeners, as net.ListenConfig does for addresses. Each listener
// is served under its own rpc.Policy: Policy as the target's options
// (allow=, block=, uid=, gid=, cid=, token-file=) refine it, with the
// rules of its transport. The zero ListenConfig is ready to use: a
// target without policy options is then served under the server's own
// policy (rpc.ServerOptions.Policy).
type ListenConfig struct {
	// Stream sets the channels' buffer and frame limits.
	Stream channel.StreamOptions
	// Policy is the base policy (the agent's --allow-rpcs, --block-rpcs,
	// --allow-uid, --allow-gid, --allow-cid and --insecure).
	Policy rpc.Policy
	// Token is what TCP peers must present in HELLO, unless a target
	// names its own token-file=. A TCP target without a token is refused
	// unless Policy.Insecure.
	Token []byte
	// Public permits TCP listeners on addresses other than loopback.
	Public bool
}

// Errors of ListenConfig; use errors.Is.
var (
	// ErrNoToken: a TCP target without a token (and not insecure).
	ErrNoToken = errors.New("transport: a TCP listener needs a token: any local user can reach a TCP port")
	// ErrPublic: a TCP listener on a non-loopback address without
	// ListenConfig.Public.
	ErrPublic = errors.New("transport: a TCP listener on a non-loopback address needs an explicit opt-in")
)

// Listen returns the listener for an agent-side target string (see the
// package documentation). ctx bounds resolving a TCP host name, which
// must be loopback unless Public.
func (c *ListenConfig) Listen(ctx context.Context, target string) (channel.Listener, error) {
	t, p, err := c.parse(target)
	if err != nil {
		return nil, err
	}
	if t.Scheme == "tcp" && !c.Public {
		if err := checkLoopback(ctx, t.Address); err != nil {
			return nil, err
		}
	}
	l, err := listenTarget(t, c.Stream)
	if err != nil {
		return nil, err
	}
	return c.withPolicy(l, t, p), nil
}

// Reverse returns the agent's reverse mode for a target string
// (vsock:CID:PORT, unix:PATH, tcp:ADDR) as a Listener: Accept connects
// out and returns the connection, one session at a time. The next Accept
// waits until the previous session's channel is closed and then 100ms
// more, so a host (or a refused peer) that ends sessions at once is not
// redialed in a loop; between failed dials it waits from 100ms up to 5s.
// A failed dial is returned from Accept (rpc.Server.Serve logs it and
// calls Accept again). The sessions are served under the target's
// policy like any listener's: the agent chose where to connect, but
// another local user may have taken that port first.
func (c *ListenConfig) Reverse(target string) (channel.Listener, error) {
	t, p, err := c.parse(target)
	if err != nil {
		return nil, err
	}
	dial, err := dialOut(t, c.Stream)
	if err != nil {
		return nil, err
	}
	return c.withPolicy(newReverse(dial, t), t, p), nil
}

// parse reads target, checks its options and works out its policy.
func (c *ListenConfig) parse(target string) (Target, rpc.Policy, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return Target{}, rpc.Policy{}, err
	}
	if err := t.Check(); err != nil {
		return Target{}, rpc.Policy{}, err
	}
	p, err := c.policyFor(t)
	if err != nil {
		return Target{}, rpc.Policy{}, err
	}
	return t, p, nil
}

// withPolicy serves l under p, unless neither the target nor c says
// anything about policy: then the server's own applies.
func (c *ListenConfig) withPolicy(l channel.Listener, t Target, p rpc.Policy) channel.Listener {
	if !t.Options.Policy() && t.Scheme != "tcp" && isZero(&c.Policy) {
		return l
	}
	return rpc.WithPolicy(l, p)
}

func isZero(p *rpc.Policy) bool {
	return p.AllowUIDs == nil && p.AllowGIDs == nil && p.AllowCIDs == nil && p.Token == nil &&
		!p.Insecure && p.Allow == nil && p.Block == nil
}

// policyFor is the base policy refined by t's options: allow= replaces
// the allowed methods, block= adds to the blocked ones (a method the
// agent blocks stays blocked on every listener), uid=, gid= and cid=
// replace the admitted peers; a TCP target gets its token.
func (c *ListenConfig) policyFor(t Target) (rpc.Policy, error) {
	p := c.Policy
	o := t.Options
	p.Block = append(slices.Clone(p.Block), o.Block...)
	if o.Allow != nil {
		p.Allow = o.Allow
	}
	if o.UIDs != nil || o.GIDs != nil {
		p.AllowUIDs, p.AllowGIDs = o.UIDs, o.GIDs
	}
	if o.CIDs != nil {
		p.AllowCIDs = o.CIDs
	}
	if err := p.Validate(); err != nil {
		return rpc.Policy{}, fmt.Errorf("transport: %s: %w", t, err)
	}
	if t.Scheme != "tcp" {
		return p, nil
	}
	p.Token = c.Token
	if o.TokenFile != "" {
		tok, err := ReadTokenFile(o.TokenFile)
		if err != nil {
			return rpc.Policy{}, fmt.Errorf("transport: %s: %w", t, err)
		}
		p.Token = tok
	}
	if len(p.Token) == 0 && !p.Insecure {
		return rpc.Policy{}, fmt.Errorf("%w: %s: give --token-file (or token-file= on the target)", ErrNoToken, t)
	}
	return p, nil
}

// checkLoopback refuses a TCP address that is not loopback only: every
// address its host resolves to must be a loopback one.
func checkLoopback(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: tcp:%s: %v", ErrBadTarget, addr, err)
	}
	if host == "" {
		return fmt.Errorf("%w: tcp:%s listens on every interface (pass --listen-public if the network may reach it)", ErrPublic, addr)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if ips, err = net.DefaultResolver.LookupIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("transport: tcp:%s: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: tcp:%s is %v, not loopback (pass --listen-public if the network may reach it)", ErrPublic, addr, ip)
		}
	}
	return nil
}
