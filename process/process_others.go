//go:build !linux

package process

import (
	"context"
	"errors"
	"fmt"

	"github.com/guestrpc/guestrpc/rpc"
)

type sysState struct{}
type procSys struct{}

// NewManager returns an error wrapping errors.ErrUnsupported: the
// guest side of package process runs on Linux only. The host side
// (Client) works everywhere.
func NewManager(opts Options) (*Manager, error) {
	return nil, fmt.Errorf("process: NewManager: %w", errors.ErrUnsupported)
}

// Close does nothing off Linux.
func (m *Manager) Close() error { return nil }

func (m *Manager) runExec(context.Context, *rpc.Request, *Spec) (any, error) {
	return nil, rpc.Errorf(rpc.Unimplemented, "%s: %w", MethodStart, errors.ErrUnsupported)
}

func (m *Manager) signalLocked(*proc, int) error { return errors.ErrUnsupported }

func (m *Manager) resizeID(ResizeRequest) error {
	return rpc.Errorf(rpc.Unimplemented, "%s: %w", MethodResize, errors.ErrUnsupported)
}
