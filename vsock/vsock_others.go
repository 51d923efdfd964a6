//go:build !linux

package vsock

import (
	"context"
	"errors"
	"fmt"

	"github.com/guestrpc/guestrpc/channel"
)

// Listen returns errors.ErrUnsupported: AF_VSOCK is Linux-only.
func Listen(port uint32, opts channel.StreamOptions) (*channel.NetListener, error) {
	return nil, fmt.Errorf("vsock: listen on port %d: %w", port, errors.ErrUnsupported)
}

// Dial returns errors.ErrUnsupported: AF_VSOCK is Linux-only.
func Dial(ctx context.Context, cid, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	return nil, fmt.Errorf("vsock: dial %d:%d: %w", cid, port, errors.ErrUnsupported)
}

// DialHost returns errors.ErrUnsupported: AF_VSOCK is Linux-only.
func DialHost(ctx context.Context, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	return Dial(ctx, CIDHost, port, opts)
}
