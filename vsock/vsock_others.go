//go:build !linux

package vsock

import (
	"context"
	"fmt"

	"github.com/guestrpc/guestrpc/channel"
)

// Listen returns channel.ErrNotSupported: AF_VSOCK is Linux-only.
func Listen(port uint32, opts channel.StreamOptions) (*channel.NetListener, error) {
	return nil, fmt.Errorf("vsock: listen on port %d: %w", port, channel.ErrNotSupported)
}

// Dial returns channel.ErrNotSupported: AF_VSOCK is Linux-only.
func Dial(ctx context.Context, cid, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	return nil, fmt.Errorf("vsock: dial %d:%d: %w", cid, port, channel.ErrNotSupported)
}

// DialHost returns channel.ErrNotSupported: AF_VSOCK is Linux-only.
func DialHost(ctx context.Context, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	return Dial(ctx, CIDHost, port, opts)
}
