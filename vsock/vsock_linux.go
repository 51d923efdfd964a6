//go:build linux

package vsock

import (
	"context"
	"fmt"

	"github.com/mdlayher/vsock"

	"github.com/guestrpc/guestrpc/channel"
)

// Listen listens on an AF_VSOCK port of this machine (any CID).
func Listen(port uint32, opts channel.StreamOptions) (*channel.NetListener, error) {
	l, err := vsock.Listen(port, nil)
	if err != nil {
		return nil, fmt.Errorf("vsock: listen on port %d: %w", port, err)
	}
	return channel.NewListener(l, opts), nil
}

// Dial connects to port on the machine with context ID cid.
func Dial(ctx context.Context, cid, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	c, err := vsock.DialContext(ctx, cid, port, nil)
	if err != nil {
		return nil, fmt.Errorf("vsock: dial %d:%d: %w", cid, port, err)
	}
	return channel.NewStream(c, opts), nil
}

// DialHost connects from a guest to port on its host (CID 2).
func DialHost(ctx context.Context, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	return Dial(ctx, CIDHost, port, opts)
}
