//go:build !linux

package process

import (
	"context"
	"fmt"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

type sysState struct{}
type procSys struct{}

// NewManager returns an error wrapping channel.ErrNotSupported: the
// guest side of package process runs on Linux only. The host side
// (Client) works everywhere.
func NewManager(opts Options) (*Manager, error) {
	return nil, fmt.Errorf("process: NewManager: %w", channel.ErrNotSupported)
}

// Close does nothing off Linux.
func (m *Manager) Close() error { return nil }

func (m *Manager) runExec(context.Context, *rpc.Request, *Spec) (any, error) {
	return nil, rpc.Errorf(rpc.Unimplemented, "%s: %w", MethodStart, channel.ErrNotSupported)
}

func (m *Manager) signalLocked(*proc, int) error { return channel.ErrNotSupported }

func (m *Manager) resizeID(ResizeRequest) error {
	return rpc.Errorf(rpc.Unimplemented, "%s: %w", MethodResize, channel.ErrNotSupported)
}
