package power

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Op is a power operation.
type Op string

// Operations.
const (
	Halt    Op = "halt"
	Reboot  Op = "reboot"
	Suspend Op = "suspend"
)

// ErrNotSupported is returned for an operation this platform cannot do.
var ErrNotSupported = errors.New("power: operation not supported on this platform")

// Options configure the handlers.
type Options struct {
	Logger *slog.Logger
	// Before runs before the operation (after the reply is sent); an error
	// is logged and the operation goes ahead, as a guest asked to stop
	// must stop.
	Before func(ctx context.Context, op Op) error
	// Act performs op. Nil uses Default.
	Act func(op Op) error
	// Delay between the reply and the action (default 200ms), so the
	// reply reaches the host before the guest disappears.
	Delay time.Duration
}

// Request is the argument of the power methods.
type Request struct {
	// Delay overrides Options.Delay, e.g. "5s"; parsed by time.ParseDuration.
	Delay string `json:"delay,omitempty"`
}

// Register adds power.halt, power.reboot and power.suspend to s.
func Register(s *rpc.Server, opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Act == nil {
		opts.Act = Default
	}
	if opts.Delay <= 0 {
		opts.Delay = 200 * time.Millisecond
	}
	for _, op := range []Op{Halt, Reboot, Suspend} {
		s.RegisterHandler("power."+string(op), rpc.Unary(func(ctx context.Context, req Request) (struct{}, error) {
			delay := opts.Delay
			if req.Delay != "" {
				d, err := time.ParseDuration(req.Delay)
				if err != nil || d < 0 || d > time.Hour {
					return struct{}{}, rpc.Errorf(rpc.InvalidArgument, "power.%s: delay %q: want a duration between 0 and 1h", op, req.Delay)
				}
				delay = d
			}
			if !Supported(op) {
				return struct{}{}, rpc.Errorf(rpc.Unimplemented, "power.%s: %v", op, ErrNotSupported)
			}
			opts.Logger.Info("power operation requested", "op", op, "delay", delay)
			time.AfterFunc(delay, func() {
				if opts.Before != nil {
					if err := opts.Before(context.Background(), op); err != nil {
						opts.Logger.Warn("power: hook failed; going ahead", "op", op, "error", err)
					}
				}
				if err := opts.Act(op); err != nil {
					opts.Logger.Error("power operation failed", "op", op, "error", fmt.Errorf("power %s: %w", op, err))
				}
			})
			return struct{}{}, nil
		}))
	}
}
