package nicinfo

import (
	"context"
	"log/slog"
	"sync"

	"github.com/guestrpc/guestrpc/rpc"
)

// methodName is the method a Service serves.
const methodName = "guest.nicinfo"

// Options configure a Service.
type Options struct {
	// Logger receives collection failures; nil is silent.
	Logger *slog.Logger
	// Select decides the primary IP reported (see Info.PrimaryIP).
	Select Select
	// Collect replaces Collect, e.g. for a guest that knows its network
	// another way, or for tests.
	Collect func(ctx context.Context) (*Info, error)
}

// Result is the result of guest.nicinfo: the guest's network state and
// the address OVT would report as guestinfo.ip.
type Result struct {
	Info
	PrimaryIP string `json:"primaryIP,omitempty"`
}

// Service serves guest.nicinfo. Collections run one at a time, so a
// flood of calls costs one netlink dump at a time, not one each.
type Service struct {
	log     *slog.Logger
	sel     Select
	collect func(ctx context.Context) (*Info, error)
	sem     chan struct{} // one collection at a time

	mu     sync.Mutex
	closed bool
}

// NewService returns a Service. Close stops it answering.
func NewService(opts Options) (*Service, error) {
	s := &Service{log: opts.Logger, sel: opts.Select, collect: opts.Collect, sem: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.collect == nil {
		s.collect = Collect
	}
	return s, nil
}

// Register adds guest.nicinfo to srv.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(methodName, rpc.Unary(func(ctx context.Context, _ struct{}) (*Result, error) {
		return s.Result(ctx)
	}))
}

// Close makes later calls fail with Unavailable. It has nothing to
// release and returns nil.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Info collects the guest's network state, as guest.nicinfo does; the
// VMware toolbox reports the same data (Info.V3) to the VMX.
func (s *Service) Info(ctx context.Context) (*Info, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, rpc.Errorf(rpc.Unavailable, "%s: the service is closed", methodName)
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, rpc.Errorf(rpc.CodeOf(ctx.Err()), "%s: %w", methodName, ctx.Err())
	}
	info, err := s.collect(ctx)
	if err != nil {
		s.log.Warn("nicinfo: collection failed", "error", err)
		if info == nil {
			return nil, rpc.Errorf(rpc.Unavailable, "%s: %w", methodName, err)
		}
	}
	return info, nil
}

// Result is what guest.nicinfo returns.
func (s *Service) Result(ctx context.Context) (*Result, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	return &Result{Info: *info, PrimaryIP: info.PrimaryIP(s.sel)}, nil
}

// Client calls guest.nicinfo; NewClient is for host programs.
type Client struct{ c *rpc.Client }

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Get returns the guest's network state as guest.nicinfo reports it.
func (c *Client) Get(ctx context.Context) (*Result, error) {
	var r Result
	if err := c.c.Call(ctx, methodName, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
