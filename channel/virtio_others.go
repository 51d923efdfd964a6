//go:build !(linux || darwin || freebsd)

package channel

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// VirtioListener serves a virtio-console port; not supported on this
// platform.
type VirtioListener struct{}

// ListenVirtio returns errors.ErrUnsupported on this platform.
func ListenVirtio(name string, opts VirtioOptions) (*VirtioListener, error) {
	return nil, fmt.Errorf("channel: virtio port %q: %w", name, errors.ErrUnsupported)
}

// OpenVirtioDevice returns errors.ErrUnsupported on this platform.
func OpenVirtioDevice(path string, opts VirtioOptions) (*VirtioListener, error) {
	return nil, fmt.Errorf("channel: virtio port %s: %w", path, errors.ErrUnsupported)
}

// Accept returns errors.ErrUnsupported.
func (l *VirtioListener) Accept(ctx context.Context) (Channel, error) {
	return nil, errors.ErrUnsupported
}

// Close does nothing.
func (l *VirtioListener) Close() error { return nil }

// Addr returns an empty address.
func (l *VirtioListener) Addr() net.Addr { return VirtioAddr{} }
