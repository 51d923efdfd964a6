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

// NewService returns an error wrapping errors.ErrUnsupported: the
// guest side of package process runs on Linux only. The host side
// (Client) works everywhere.
func NewService(opts Options) (*Service, error) {
	return nil, fmt.Errorf("process: NewService: %w", errors.ErrUnsupported)
}

// Close does nothing off Linux.
func (s *Service) Close() error { return nil }

func (s *Service) runExec(context.Context, *rpc.Request, *Spec) (any, error) {
	return nil, rpc.Errorf(rpc.Unimplemented, "%s: %w", methodStart, errors.ErrUnsupported)
}

func (s *Service) signalLocked(*proc, int) error { return errors.ErrUnsupported }

func (s *Service) resizeID(resizeRequest) error {
	return rpc.Errorf(rpc.Unimplemented, "%s: %w", methodResize, errors.ErrUnsupported)
}
