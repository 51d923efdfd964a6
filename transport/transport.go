// Package transport turns the target strings users type into connected
// clients and served listeners: the one place that knows every
// transport and every target option, for the agent's --listen and
// --dial, the CLI's --connect, and programs that take a target from
// their own users.
//
// Host programs call Dial, which returns an rpc.Client; agent programs
// call Listen (or a ListenConfig's Listen and Reverse, to set a base
// policy, a token or socket options) and serve the listener with
// agent.Agent.Serve or rpc.Server.Serve. DialChannel returns the bare
// channel for callers that need it. Programs that pick a transport
// themselves use packages channel and vsock directly.
//
// Agent side (Listen):
//
//	unix:PATH           a unix socket
//	tcp:ADDR            a TCP address
//	vsock:PORT          an AF_VSOCK port (Linux guests)
//	virtio:NAME         a virtio-console port by name (e.g. org.guestrpc.0)
//
// Agent side, reverse mode (ListenConfig.Reverse; the agent connects
// out, then serves):
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
// an address cannot contain a comma. ParseTarget reads them; Listen
// applies them all: mode= and group= to the socket, the rest as the
// listener's rpc.Policy (rpc.WithPolicy). A TCP listener needs a token
// and a loopback address unless told otherwise (ListenConfig).
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
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vsock"
)

// Dial connects to the agent at a host-side target and returns a client
// that has completed the handshake: the way for host programs to reach
// an agent. opts.Token is presented for agents that require one.
func Dial(ctx context.Context, target string, opts rpc.ClientOptions) (*rpc.Client, error) {
	ch, err := DialChannel(ctx, target, channel.StreamOptions{})
	if err != nil {
		return nil, err
	}
	c, err := rpc.NewClient(ctx, ch, opts)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %w", target, err)
	}
	return c, nil
}

// DialChannel connects to a host-side target and returns the channel
// without speaking on it: for callers that set channel.StreamOptions
// before rpc.NewClient, or run their own protocol (package vsock and
// package channel dial by address instead of by target string).
func DialChannel(ctx context.Context, target string, opts channel.StreamOptions) (channel.Channel, error) {
	scheme, rest, err := split(target)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case "unix", "virtio":
		return channel.DialUnix(ctx, rest, opts)
	case "tcp":
		return channel.DialTCP(ctx, rest, opts)
	case "vsock":
		cid, port, err := cidPort(target, rest)
		if err != nil {
			return nil, err
		}
		return vsock.Dial(ctx, cid, port, opts)
	case "hybrid":
		i := strings.LastIndexByte(rest, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %q: want hybrid:UDS:PORT", ErrBadTarget, target)
		}
		port, err := vsock.ParsePort(rest[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadTarget, target, err)
		}
		return vsock.DialHybrid(ctx, rest[:i], port, opts)
	case "hyperkit":
		j := strings.LastIndexByte(rest, ':')
		if j <= 0 {
			return nil, fmt.Errorf("%w: %q: want hyperkit:DIR:CID:PORT", ErrBadTarget, target)
		}
		i := strings.LastIndexByte(rest[:j], ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %q: want hyperkit:DIR:CID:PORT", ErrBadTarget, target)
		}
		cid, port, err := cidPort(target, rest[i+1:])
		if err != nil {
			return nil, err
		}
		return vsock.DialHyperkit(ctx, rest[:i], cid, port, opts)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want unix, tcp, vsock, hybrid, hyperkit or virtio)", ErrBadTarget, target, scheme)
}

// Listen returns the listener for an agent-side target string, as the
// zero ListenConfig makes it: the target's own options apply, and a
// target without policy options is served under the server's policy
// (rpc.ServerOptions.Policy). ctx bounds resolving a TCP host name.
func Listen(ctx context.Context, target string) (channel.Listener, error) {
	var lc ListenConfig
	return lc.Listen(ctx, target)
}

// listenTarget returns the bare listener for t, with its socket options
// (mode=, group=) applied.
func listenTarget(t Target, opts channel.StreamOptions) (channel.Listener, error) {
	switch t.Scheme {
	case "unix":
		return channel.ListenUnixWith(t.Address, channel.UnixOptions{StreamOptions: opts, Mode: t.Options.Mode, Group: t.Options.Group})
	case "tcp":
		return channel.ListenTCP(t.Address, opts)
	case "vsock":
		port, err := vsock.ParsePort(t.Address)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadTarget, t, err)
		}
		return vsock.Listen(port, opts)
	case "virtio":
		return channel.ListenVirtio(t.Address, channel.VirtioOptions{StreamOptions: opts})
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want unix, tcp, vsock or virtio)", ErrBadTarget, t, t.Scheme)
}

// dialOut returns the dialer of the agent's reverse mode for t.
func dialOut(t Target, opts channel.StreamOptions) (func(context.Context) (channel.Channel, error), error) {
	if t.Options.Mode != 0 || t.Options.Group != "" {
		return nil, fmt.Errorf("%w: %q: mode= and group= are for listening", ErrOption, t)
	}
	switch t.Scheme {
	case "vsock":
		cid, port, err := cidPort(t.String(), t.Address)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (channel.Channel, error) { return vsock.Dial(ctx, cid, port, opts) }, nil
	case "unix":
		return func(ctx context.Context) (channel.Channel, error) { return channel.DialUnix(ctx, t.Address, opts) }, nil
	case "tcp":
		return func(ctx context.Context) (channel.Channel, error) { return channel.DialTCP(ctx, t.Address, opts) }, nil
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q for dialing out (want vsock, unix or tcp)", ErrBadTarget, t, t.Scheme)
}

func split(spec string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w: %q: want SCHEME:ADDRESS", ErrBadTarget, spec)
	}
	return scheme, rest, nil
}

func cidPort(spec, s string) (uint32, uint32, error) {
	c, p, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q: want CID:PORT", ErrBadTarget, spec)
	}
	cid, err := vsock.ParsePort(c)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q: context ID: %v", ErrBadTarget, spec, err)
	}
	port, err := vsock.ParsePort(p)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q: %v", ErrBadTarget, spec, err)
	}
	return cid, port, nil
}
