package channel

import (
	"context"
	"fmt"
	"strings"
)

// Listen returns a Listener for an agent-side spec:
//
//	unix:PATH     a unix socket
//	tcp:ADDR      a TCP address, e.g. tcp:127.0.0.1:5100
//
// Transport packages add more (vsock, virtio-console); see ListenSpec in
// package agent for the full set the agent binary accepts.
func Listen(ctx context.Context, spec string, opts StreamOptions) (Listener, error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: %q: want SCHEME:ADDRESS", ErrBadTarget, spec)
	}
	switch scheme {
	case "unix":
		return ListenUnix(rest, opts)
	case "tcp":
		return ListenTCP(rest, opts)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q", ErrBadTarget, spec, scheme)
}

// Dial connects to a host-side target:
//
//	unix:PATH     a unix socket (the agent's, or a QEMU/bhyve chardev socket)
//	tcp:ADDR      a TCP address
//	virtio:PATH   the host end of a virtio-console port: a QEMU or bhyve
//	              chardev unix socket
func Dial(ctx context.Context, target string, opts StreamOptions) (Channel, error) {
	scheme, rest, ok := strings.Cut(target, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: %q: want SCHEME:ADDRESS", ErrBadTarget, target)
	}
	switch scheme {
	case "unix", "virtio":
		return DialUnix(ctx, rest, opts)
	case "tcp":
		return DialTCP(ctx, rest, opts)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q", ErrBadTarget, target, scheme)
}
