package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
)

// Config configures a complete agent (New).
type Config struct {
	Logger *slog.Logger
	// Name is announced to hosts in HELLO.
	Name string
	// Policy decides who may connect and what they may call, on every
	// listener that has no policy of its own (see Listen).
	Policy rpc.Policy
	// Reap makes the agent reap orphaned processes: it becomes a child
	// subreaper, or is the reaper already as PID 1. Nothing else in the
	// program may wait for child processes then.
	Reap bool
	// Files confines and restricts the file.* methods (Root, ReadOnly).
	Files files.Options
	// Power overrides how power.* methods act (nil: the system's way).
	Power *power.Options
	// NicInfo configures guest.nicinfo (zero: collect from the system).
	NicInfo nicinfo.Options
	// MaxConns caps connections across all listeners (0:
	// rpc.DefaultMaxConns).
	MaxConns int
	// ShutdownGrace is how long Serve lets calls in flight finish once
	// its ctx ends (0: DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// TrimDelay is how long after a file transfer (file.read,
	// file.write, file.archive) ends, with no other ending meanwhile, the
	// agent returns the memory it freed to the system (0:
	// DefaultTrimDelay; negative: never, leaving it to the Go runtime).
	TrimDelay time.Duration
}

// Version is the agent's version, reported by sys.info.
const Version = "0.1.0"

// DefaultShutdownGrace is Config.ShutdownGrace's default.
const DefaultShutdownGrace = 5 * time.Second

// Agent is an rpc.Server with every guest service registered: sys.ping
// (package rpc), sys.info (package sysinfo), process.* (package
// process), net.dial (package forward), file.* (package files),
// hgfs.packet (package hgfs), power.* (package power) and guest.nicinfo
// (package nicinfo). Add methods with RegisterHandler, as on any
// rpc.Server; serve it with Serve.
type Agent struct {
	*rpc.Server
	// Processes is nil where the platform cannot run processes for a
	// peer (New logs why); the process.* methods are then not
	// registered and calls to them fail with Unimplemented.
	Processes *process.Service
	Forward   *forward.Service
	Files     *files.Service
	HGFS      *hgfs.Service
	NicInfo   *nicinfo.Service
	Power     *power.Service
	SysInfo   *sysinfo.Service

	log   *slog.Logger
	grace time.Duration
	trim  *trimmer
}

// New returns an Agent. Close releases its processes and files.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	srv := rpc.NewServer(rpc.ServerOptions{Logger: cfg.Logger, Name: cfg.Name, Policy: cfg.Policy, MaxConns: cfg.MaxConns})
	a := &Agent{Server: srv, log: cfg.Logger, grace: cfg.ShutdownGrace}
	a.SysInfo, _ = sysinfo.NewService(sysinfo.Options{Version: Version})
	a.SysInfo.Register(srv)
	if cfg.TrimDelay >= 0 {
		delay := cfg.TrimDelay
		if delay == 0 {
			delay = DefaultTrimDelay
		}
		a.trim = newTrimmer(delay, nil)
		srv.Use(a.trim.middleware)
	}
	var err error
	if a.Processes, err = process.NewService(process.Options{Logger: cfg.Logger, Reap: cfg.Reap}); err != nil {
		cfg.Logger.Warn("agent: process methods unavailable", "error", err)
	} else {
		a.Processes.Register(srv)
	}
	if a.Forward, err = forward.NewService(forward.Options{Logger: cfg.Logger}); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: forward: %w", err)
	}
	a.Forward.Register(srv)
	fo := cfg.Files
	if fo.Logger == nil {
		fo.Logger = cfg.Logger
	}
	if a.Files, err = files.NewService(fo); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: files: %w", err)
	}
	a.Files.Register(srv)
	if a.HGFS, err = hgfs.NewService(hgfs.Options{Logger: cfg.Logger, Files: a.Files.Policy()}); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: hgfs: %w", err)
	}
	a.HGFS.Register(srv)
	po := power.Options{Logger: cfg.Logger}
	if cfg.Power != nil {
		po = *cfg.Power
	}
	if a.Power, err = power.NewService(po); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: power: %w", err)
	}
	a.Power.Register(srv)
	no := cfg.NicInfo
	if no.Logger == nil {
		no.Logger = cfg.Logger
	}
	if a.NicInfo, err = nicinfo.NewService(no); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: nicinfo: %w", err)
	}
	a.NicInfo.Register(srv)
	return a, nil
}

// Close closes every service: it kills the processes still running,
// ends forwarded connections, cancels power operations still waiting out
// their delay and releases the file service. Shut the server down first.
func (a *Agent) Close() error {
	var errs []error
	if a.trim != nil {
		a.trim.stop()
	}
	if a.Processes != nil {
		errs = append(errs, a.Processes.Close())
	}
	if a.Forward != nil {
		errs = append(errs, a.Forward.Close())
	}
	if a.HGFS != nil {
		errs = append(errs, a.HGFS.Close())
	}
	if a.Files != nil {
		errs = append(errs, a.Files.Close()) // after HGFS, which shares its policy
	}
	if a.NicInfo != nil {
		errs = append(errs, a.NicInfo.Close())
	}
	if a.Power != nil {
		errs = append(errs, a.Power.Close())
	}
	return errors.Join(errs...)
}
