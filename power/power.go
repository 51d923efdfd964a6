package power

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
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

// DefaultDelay is the time between the reply and the action when
// neither Options.Delay nor the request sets one.
const DefaultDelay = 200 * time.Millisecond

// maxDelay bounds the delay a request may ask for.
const maxDelay = time.Hour

// unsupported is the error for an operation this platform cannot do; it
// wraps errors.ErrUnsupported.
func unsupported(op Op) error {
	return fmt.Errorf("power: %s is not supported on %s: %w", op, runtime.GOOS, errors.ErrUnsupported)
}

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	// Before runs before the operation (after the reply is sent); an error
	// is logged and the operation goes ahead, as a guest asked to stop
	// must stop. Its ctx ends when the Service is closed.
	Before func(ctx context.Context, op Op) error
	// Act performs op. Nil uses Default.
	Act func(op Op) error
	// Delay between the reply and the action (0: DefaultDelay), so the
	// reply reaches the host before the guest disappears.
	Delay time.Duration
}

// request is the argument of the power methods.
type request struct {
	// Delay overrides Options.Delay, e.g. "5s"; parsed by time.ParseDuration.
	Delay string `json:"delay,omitempty"`
}

// Service serves power.halt, power.reboot and power.suspend.
type Service struct {
	opts   Options
	ctx    context.Context // ends at Close; given to Before
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	pending map[*time.Timer]struct{} // actions waiting out their delay
	wg      sync.WaitGroup           // pending and running actions
}

// NewService returns a Service acting with opts.
func NewService(opts Options) (*Service, error) {
	if opts.Delay < 0 {
		return nil, fmt.Errorf("power: delay %v is negative", opts.Delay)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Act == nil {
		opts.Act = Default
	}
	if opts.Delay == 0 {
		opts.Delay = DefaultDelay
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: opts, ctx: ctx, cancel: cancel, pending: make(map[*time.Timer]struct{})}, nil
}

// Register adds power.halt, power.reboot and power.suspend to srv.
func (s *Service) Register(srv *rpc.Server) {
	for _, op := range []Op{Halt, Reboot, Suspend} {
		srv.RegisterHandler("power."+string(op), rpc.Unary(func(ctx context.Context, req request) (struct{}, error) {
			return struct{}{}, s.serve(op, req)
		}))
	}
}

// serve checks a request for op and schedules the action.
func (s *Service) serve(op Op, req request) error {
	delay := s.opts.Delay
	if req.Delay != "" {
		d, err := time.ParseDuration(req.Delay)
		if err != nil || d < 0 || d > maxDelay {
			return rpc.Errorf(rpc.InvalidArgument, "power.%s: delay %q: want a duration between 0 and 1h", op, req.Delay)
		}
		delay = d
	}
	if !Supported(op) {
		return rpc.Errorf(rpc.Unimplemented, "power.%s: %w", op, unsupported(op))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return rpc.Errorf(rpc.Unavailable, "power.%s: the power service is closed", op)
	}
	s.opts.Logger.Info("power operation requested", "op", op, "delay", delay)
	s.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer s.wg.Done()
		s.mu.Lock()
		delete(s.pending, t) // t is set: the timer's func needs mu, held until then
		s.mu.Unlock()
		s.act(op)
	})
	s.pending[t] = struct{}{}
	return nil
}

// act runs the hook, then the action.
func (s *Service) act(op Op) {
	if s.opts.Before != nil {
		if err := s.opts.Before(s.ctx, op); err != nil {
			s.opts.Logger.Warn("power: hook failed; going ahead", "op", op, "error", err)
		}
	}
	if err := s.opts.Act(op); err != nil {
		s.opts.Logger.Error("power operation failed", "op", op, "error", fmt.Errorf("power %s: %w", op, err))
	}
}

// Close refuses further requests, cancels the operations still waiting
// out their delay, ends the context of a running Before hook and waits
// for a running operation to return.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for t := range s.pending {
		if t.Stop() {
			s.wg.Done()
		}
	}
	s.pending = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}
