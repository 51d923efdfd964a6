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
// It knows no vsock or virtio-console targets and no ",KEY=VALUE"
// options; transport.Listen accepts the full set the agent binary does
// (ListenVirtio opens a virtio-console port directly). ctx is not used:
// creating a unix or TCP listener does not block (Accept takes its own
// ctx).
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
