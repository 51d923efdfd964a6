package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// ListenConfig turns the agent's --listen and --dial target strings into
// listeners, each served under its own rpc.Policy: the base Policy, as
// the target's options (allow=, block=, uid=, gid=, cid=, token-file=;
// see package transport) refine it, with the rules of its transport.
type ListenConfig struct {
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
	ErrNoToken = errors.New("agent: a TCP listener needs a token: any local user can reach a TCP port")
	// ErrPublic: a TCP listener on a non-loopback address without
	// ListenConfig.Public.
	ErrPublic = errors.New("agent: a TCP listener on a non-loopback address needs an explicit opt-in")
)

// Listen returns the listener for an agent-side target string, served
// under its policy (rpc.WithPolicy).
func (c *ListenConfig) Listen(ctx context.Context, spec string) (channel.Listener, error) {
	t, err := transport.ParseTarget(spec)
	if err != nil {
		return nil, err
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	p, err := c.policyFor(t)
	if err != nil {
		return nil, err
	}
	if t.Scheme == "tcp" && !c.Public {
		if err := checkLoopback(ctx, t.Address); err != nil {
			return nil, err
		}
	}
	l, err := transport.ListenTarget(ctx, t, c.Stream)
	if err != nil {
		return nil, err
	}
	return rpc.WithPolicy(l, p), nil
}

// Reverse returns a reverse-mode listener for a --dial target string
// (transport.Reverse), served under its policy like any listener: the
// agent chose where to connect, but another local user may have taken
// that port first.
func (c *ListenConfig) Reverse(spec string) (channel.Listener, error) {
	t, err := transport.ParseTarget(spec)
	if err != nil {
		return nil, err
	}
	p, err := c.policyFor(t)
	if err != nil {
		return nil, err
	}
	l, err := transport.Reverse(t, c.Stream)
	if err != nil {
		return nil, err
	}
	return rpc.WithPolicy(l, p), nil
}

// policyFor is the base policy refined by t's options: allow= replaces
// the allowed methods, block= adds to the blocked ones (a method the
// agent blocks stays blocked on every listener), uid=, gid= and cid=
// replace the admitted peers; a TCP target gets its token.
func (c *ListenConfig) policyFor(t transport.Target) (rpc.Policy, error) {
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
		return rpc.Policy{}, fmt.Errorf("agent: %s: %w", t, err)
	}
	if t.Scheme != "tcp" {
		return p, nil
	}
	p.Token = c.Token
	if o.TokenFile != "" {
		tok, err := transport.ReadTokenFile(o.TokenFile)
		if err != nil {
			return rpc.Policy{}, fmt.Errorf("agent: %s: %w", t, err)
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
		return fmt.Errorf("%w: tcp:%s: %v", channel.ErrBadTarget, addr, err)
	}
	if host == "" {
		return fmt.Errorf("%w: tcp:%s listens on every interface (pass --listen-public if the network may reach it)", ErrPublic, addr)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if ips, err = net.DefaultResolver.LookupIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("agent: tcp:%s: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: tcp:%s is %v, not loopback (pass --listen-public if the network may reach it)", ErrPublic, addr, ip)
		}
	}
	return nil
}
