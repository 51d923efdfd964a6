package toolbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// RPCI sends one request to the VMX and returns the result of its "1 "
// reply; *backdoor.RPCI implements it.
type RPCI interface {
	Call(ctx context.Context, req []byte) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	// Logger receives failures of best-effort requests; nil is silent.
	Logger *slog.Logger
	// RPCI carries requests to the VMX. Required.
	RPCI RPCI
	// Product, Version and Build describe the tools in
	// guestinfo.vmtools.* and the VMX log (default "guestrpc", "1.0.0", 0).
	Product string
	Version string
	Build   int
	// PrimaryIP answers Set_Option broadcastIP 1 (package nicinfo). Nil,
	// or an error, reports an empty address, as OVT does when it has none.
	PrimaryIP func(ctx context.Context) (string, error)
	// SendNicInfo sends the guest's network information to the VMX
	// (SetGuestInfo 10 with its fallbacks; package nicinfo). It runs
	// after broadcastIP 1; nil sends nothing.
	SendNicInfo func(ctx context.Context, rpci RPCI) error
	// Power performs OS_Halt and OS_Reboot through package power's hooks:
	// Before, then Act (nil: power.Default), Delay after the reply
	// (default 200ms) so that the reply reaches the VMX first.
	Power power.Options
	// VIX serves Vix_1_Relayed_Command: it gets the command's argument
	// bytes and returns the reply's text after "OK ". Nil leaves the
	// command unknown.
	VIX func(ctx context.Context, args []byte) ([]byte, error)
}

// Service serves the toolbox.* methods. Safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	versionSent bool
	stateChange int         // state in progress (1..5), 0 when none
	timer       *time.Timer // the pending power action
	scripts     map[string]bool
}

// Errors.
var (
	ErrNoRPCI = errors.New("toolbox: Options.RPCI is required")
)

// NewService returns a Service; it sends nothing until called.
func NewService(opts Options) (*Service, error) {
	if opts.RPCI == nil {
		return nil, ErrNoRPCI
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Product == "" {
		opts.Product = "guestrpc"
	}
	if opts.Version == "" {
		opts.Version = "1.0.0"
	}
	if opts.Power.Delay <= 0 {
		opts.Power.Delay = 200 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, scripts: map[string]bool{}}, nil
}

// Method names (each is "toolbox." + the TCLO command).
const (
	MethodReset        = "toolbox.reset"
	MethodPing         = "toolbox.ping"
	MethodCapabilities = "toolbox.Capabilities_Register"
	MethodSetOption    = "toolbox.Set_Option"
	MethodVIX          = "toolbox.Vix_1_Relayed_Command"
)

// Policy is the policy to serve TCLO under: only toolbox.* methods.
func Policy() rpc.Policy { return rpc.Policy{Allow: []string{"toolbox.*"}} }

// Methods lists the methods Register adds.
func (s *Service) Methods() []string {
	m := []string{MethodReset, MethodPing, MethodCapabilities, MethodSetOption}
	for _, p := range powerOps {
		m = append(m, "toolbox."+p.cmd)
	}
	if s.opts.VIX != nil {
		m = append(m, MethodVIX)
	}
	return m
}

// Register adds the toolbox.* methods to srv. Each takes the TCLO
// argument bytes ([]byte: base64 in JSON) and returns the reply text.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(MethodReset, rpc.Unary(s.reset))
	srv.RegisterHandler(MethodPing, rpc.Unary(s.ping))
	srv.RegisterHandler(MethodCapabilities, rpc.Unary(s.capabilities))
	srv.RegisterHandler(MethodSetOption, rpc.Unary(s.setOption))
	for _, p := range powerOps {
		srv.RegisterHandler("toolbox."+p.cmd, rpc.Unary(func(ctx context.Context, _ []byte) ([]byte, error) {
			return s.stateChangeOp(ctx, p)
		}))
	}
	if s.opts.VIX != nil {
		srv.RegisterHandler(MethodVIX, rpc.Unary(s.opts.VIX))
	}
}

// Start sends what OVT reports when it starts: the tools description,
// version string, version number and build (info-set
// guestinfo.vmtools.*). It sends them all and returns the failures.
func (s *Service) Start(ctx context.Context) error {
	var errs []error
	for _, m := range msgVersionInfo(s.opts.Product, s.opts.Version, s.opts.Build) {
		if _, err := s.opts.RPCI.Call(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("toolbox: reporting the tools version: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close stops the work the service started (a pending power action, the
// requests after a reset) and waits for it.
func (s *Service) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.timer != nil && s.timer.Stop() {
		s.wg.Done()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// send makes a best-effort request; a failure is logged.
func (s *Service) send(ctx context.Context, req []byte) error {
	_, err := s.opts.RPCI.Call(ctx, req)
	if err != nil {
		s.log.Warn("toolbox: RPCI request failed", "request", firstWord(req), "error", err)
	}
	return err
}

func firstWord(b []byte) string {
	for i, c := range b {
		if c == ' ' || c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
