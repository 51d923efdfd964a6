// Package transport turns the target strings users type into channels:
// one place that knows every transport, for the agent's --listen/--dial
// flags and the host CLI's --connect.
//
// Agent side (Listen):
//
//	unix:PATH           a unix socket
//	tcp:ADDR            a TCP address
//	vsock:PORT          an AF_VSOCK port (Linux guests)
//	virtio:NAME         a virtio-console port by name (e.g. org.guestrpc.0)
//
// Agent side, reverse mode (DialAgent; the agent connects out, then serves):
//
//	vsock:CID:PORT      usually vsock:2:PORT, the host
//	unix:PATH, tcp:ADDR
//
// An agent-side target may end in options for its listener, each
// ",KEY=VALUE", lists separated by ";":
//
//	allow=GLOB;GLOB   methods this listener allows (path.Match globs)
//	block=GLOB;GLOB   methods it refuses
//	uid=N;N, gid=N;N  unix peers admitted, by the kernel's credentials
//	cid=N;N           vsock peers admitted, by context ID
//	token-file=PATH   the token TCP peers must present in HELLO
//	mode=0660         a unix socket's permissions (default 0600)
//	group=NAME        a unix socket's group, by name or number
//
// for example
//
//	unix:/run/x.sock,allow=sys.*;file.read,mode=0660,group=wheel
//
// Each scheme takes only the options that apply to it (Target.Check);
// an address cannot contain a comma. ParseTarget reads them; Listen and
// ListenTarget apply mode= and group=; the policy options become an
// rpc.Policy through agent.ListenConfig (Listen and DialAgent refuse
// them rather than drop them, since this package cannot apply them).
//
// Host side (Dial):
//
//	unix:PATH               the agent's unix socket
//	tcp:ADDR                a TCP address
//	vsock:CID:PORT          AF_VSOCK (Linux hosts with vhost-vsock)
//	hybrid:UDS:PORT         Firecracker / Cloud Hypervisor vsock socket
//	hyperkit:DIR:CID:PORT   hyperkit virtio-sock state directory
//	virtio:SOCKPATH         QEMU / bhyve chardev socket of a virtio-console port
package transport

import (
	"context"
	"fmt"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/vsock"
)

// Listen returns an agent-side Listener for spec. It takes the socket
// options mode= and group= but refuses the policy options (allow=,
// block=, uid=, gid=, cid=, token-file=) rather than drop them: serve
// such a spec with agent.ListenConfig, which applies them. ctx is not
// used: creating a listener does not block (Accept takes its own ctx).
func Listen(ctx context.Context, spec string, opts channel.StreamOptions) (channel.Listener, error) {
	t, err := ParseTarget(spec)
	if err != nil {
		return nil, err
	}
	if t.Options.Policy() {
		return nil, fmt.Errorf("%w: %q: policy options need agent.ListenConfig (transport.Listen cannot apply them)", ErrOption, spec)
	}
	return ListenTarget(ctx, t, opts)
}

// ListenTarget returns an agent-side Listener for t, applying its socket
// options (mode=, group=). It does not apply the policy options: that is
// the caller's part (agent.ListenConfig wraps the listener with
// rpc.WithPolicy). As for Listen, ctx is not used.
func ListenTarget(ctx context.Context, t Target, opts channel.StreamOptions) (channel.Listener, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	switch t.Scheme {
	case "unix":
		return channel.ListenUnixWith(t.Address, channel.UnixOptions{StreamOptions: opts, Mode: t.Options.Mode, Group: t.Options.Group})
	case "tcp":
		return channel.ListenTCP(t.Address, opts)
	case "vsock":
		port, err := vsock.ParsePort(t.Address)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", channel.ErrBadTarget, t, err)
		}
		return vsock.Listen(port, opts)
	case "virtio":
		return channel.ListenVirtio(t.Address, channel.VirtioOptions{StreamOptions: opts})
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want unix, tcp, vsock or virtio)", channel.ErrBadTarget, t, t.Scheme)
}

// DialAgent returns a dialer for the agent's reverse mode: the agent
// connects out with it and then serves on the connection. Like Listen,
// it refuses policy options; see Reverse.
func DialAgent(spec string, opts channel.StreamOptions) (func(context.Context) (channel.Channel, error), error) {
	t, err := ParseTarget(spec)
	if err != nil {
		return nil, err
	}
	if t.Options.Policy() {
		return nil, fmt.Errorf("%w: %q: policy options need agent.ListenConfig (transport.DialAgent cannot apply them)", ErrOption, spec)
	}
	return dialAgent(t, opts)
}

func dialAgent(t Target, opts channel.StreamOptions) (func(context.Context) (channel.Channel, error), error) {
	if t.Options.Mode != 0 || t.Options.Group != "" {
		return nil, fmt.Errorf("%w: %q: mode= and group= are for listening", ErrOption, t)
	}
	if t.Scheme != "tcp" && t.Scheme != "unix" && t.Scheme != "vsock" {
		return nil, fmt.Errorf("%w: %q: unknown scheme %q for dialing out (want vsock, unix or tcp)", channel.ErrBadTarget, t, t.Scheme)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	switch t.Scheme {
	case "vsock":
		cid, port, err := cidPort(t.String(), t.Address)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (channel.Channel, error) { return vsock.Dial(ctx, cid, port, opts) }, nil
	}
	target := t.Scheme + ":" + t.Address
	return func(ctx context.Context) (channel.Channel, error) { return channel.Dial(ctx, target, opts) }, nil
}

// Dial connects to an agent from the host.
func Dial(ctx context.Context, target string, opts channel.StreamOptions) (channel.Channel, error) {
	scheme, rest, err := split(target)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case "unix", "tcp", "virtio":
		return channel.Dial(ctx, target, opts)
	case "vsock":
		cid, port, err := cidPort(target, rest)
		if err != nil {
			return nil, err
		}
		return vsock.Dial(ctx, cid, port, opts)
	case "hybrid":
		i := strings.LastIndexByte(rest, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %q: want hybrid:UDS:PORT", channel.ErrBadTarget, target)
		}
		port, err := vsock.ParsePort(rest[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", channel.ErrBadTarget, target, err)
		}
		return vsock.DialHybrid(ctx, rest[:i], port, opts)
	case "hyperkit":
		j := strings.LastIndexByte(rest, ':')
		if j <= 0 {
			return nil, fmt.Errorf("%w: %q: want hyperkit:DIR:CID:PORT", channel.ErrBadTarget, target)
		}
		i := strings.LastIndexByte(rest[:j], ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %q: want hyperkit:DIR:CID:PORT", channel.ErrBadTarget, target)
		}
		cid, port, err := cidPort(target, rest[i+1:])
		if err != nil {
			return nil, err
		}
		return vsock.DialHyperkit(ctx, rest[:i], cid, port, opts)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want unix, tcp, vsock, hybrid, hyperkit or virtio)", channel.ErrBadTarget, target, scheme)
}

func split(spec string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w: %q: want SCHEME:ADDRESS", channel.ErrBadTarget, spec)
	}
	return scheme, rest, nil
}

func cidPort(spec, s string) (uint32, uint32, error) {
	c, p, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q: want CID:PORT", channel.ErrBadTarget, spec)
	}
	cid, err := vsock.ParsePort(c)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q: context ID: %v", channel.ErrBadTarget, spec, err)
	}
	port, err := vsock.ParsePort(p)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q: %v", channel.ErrBadTarget, spec, err)
	}
	return cid, port, nil
}
