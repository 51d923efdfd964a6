//go:build !(linux || darwin || freebsd)

package channel

import (
	"context"
	"fmt"
	"net"
)

// VirtioListener serves a virtio-console port; not supported on this
// platform.
type VirtioListener struct{}

// ListenVirtio returns ErrNotSupported on this platform.
func ListenVirtio(name string, opts VirtioOptions) (*VirtioListener, error) {
	return nil, fmt.Errorf("channel: virtio port %q: %w", name, ErrNotSupported)
}

// OpenVirtioDevice returns ErrNotSupported on this platform.
func OpenVirtioDevice(path string, opts VirtioOptions) (*VirtioListener, error) {
	return nil, fmt.Errorf("channel: virtio port %s: %w", path, ErrNotSupported)
}

// Accept returns ErrNotSupported.
func (l *VirtioListener) Accept(ctx context.Context) (Channel, error) { return nil, ErrNotSupported }

// Close does nothing.
func (l *VirtioListener) Close() error { return nil }

// Addr returns an empty address.
func (l *VirtioListener) Addr() net.Addr { return VirtioAddr{} }
