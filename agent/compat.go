package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mdvsock "github.com/mdlayher/vsock"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/compat/prokshy"
	"github.com/guestrpc/guestrpc/compat/vsockexec"
)

// CompatOptions turn on the seed protocols beside the native one; each
// runs every request through the agent's handlers under its Policy (see
// packages compat/matchlock, compat/prokshy and compat/vsockexec).
type CompatOptions struct {
	Logger *slog.Logger
	// Matchlock serves matchlock's protocol on AF_VSOCK ports 5000 (exec)
	// and 5002 (ready, answered once 5000 listens).
	Matchlock bool
	// MatchlockExec and MatchlockReady replace those AF_VSOCK listeners
	// (tests serve unix sockets); setting MatchlockExec turns Matchlock on.
	MatchlockExec, MatchlockReady net.Listener
	// Prokshy names the virtio-console port prokshy serves ("": off);
	// ProkshyDir is its command.d directory.
	Prokshy, ProkshyDir string
	// VsockExec is vsock_guest_exec's "cid:port" ("": off; parsed with
	// its defaults, see vsockexec.ParseAddr) and VsockExecPersistent its
	// mode. The guest connects again (after a second) whenever the host
	// ends a connection, as vsock_guest_exec respawned by init would.
	VsockExec           string
	VsockExecPersistent bool
	// VsockExecDial replaces the AF_VSOCK dial (tests).
	VsockExecDial func(context.Context) (net.Conn, error)
}

// Compat is the running seed protocols.
type Compat struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Close stops the seed protocols and waits for them; shut the server
// down first so that in-flight requests end.
func (c *Compat) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// StartCompat starts the seed protocols o enables, in goroutines that run
// until ctx ends or Close. It fails when a listener cannot be opened.
func (a *Agent) StartCompat(ctx context.Context, o CompatOptions) (*Compat, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Compat{cancel: cancel}
	if o.Matchlock || o.MatchlockExec != nil {
		if err := a.startMatchlock(ctx, c, o, log); err != nil {
			c.Close()
			return nil, err
		}
	}
	if o.Prokshy != "" {
		srv, err := prokshy.NewServer(prokshy.Options{Server: a.Server, Processes: a.Processes, Dir: o.ProkshyDir, Logger: log})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.wg.Go(func() { serveProkshy(ctx, srv, o.Prokshy, log) })
	}
	if o.VsockExec != "" || o.VsockExecDial != nil {
		c.wg.Go(func() { a.runVsockExec(ctx, o, log) })
	}
	return c, nil
}

func (a *Agent) startMatchlock(ctx context.Context, c *Compat, o CompatOptions, log *slog.Logger) error {
	srv, err := matchlock.NewServer(matchlock.Options{Server: a.Server, Logger: log})
	if err != nil {
		return err
	}
	exec, ready := o.MatchlockExec, o.MatchlockReady
	if exec == nil {
		if exec, err = mdvsock.Listen(matchlock.PortExec, nil); err != nil {
			return fmt.Errorf("agent: matchlock: vsock port %d: %w", matchlock.PortExec, err)
		}
		if ready, err = mdvsock.Listen(matchlock.PortReady, nil); err != nil {
			_ = exec.Close()
			return fmt.Errorf("agent: matchlock: vsock port %d: %w", matchlock.PortReady, err)
		}
	}
	c.wg.Go(func() {
		log.Info("serving matchlock", "addr", exec.Addr())
		if err := srv.Serve(ctx, exec); err != nil {
			log.Error("matchlock stopped", "err", err)
		}
	})
	if ready != nil {
		c.wg.Go(func() { _ = matchlock.ServeReady(ctx, ready) })
	}
	return nil
}

// runVsockExec connects to the host and runs its commands, connecting
// again after each connection ends, until ctx ends.
func (a *Agent) runVsockExec(ctx context.Context, o CompatOptions, log *slog.Logger) {
	dial := o.VsockExecDial
	if dial == nil {
		cid, port := vsockexec.ParseAddr(o.VsockExec)
		dial = func(context.Context) (net.Conn, error) { return mdvsock.Dial(cid, port, nil) }
	}
	opts := vsockexec.Options{Server: a.Server, Persistent: o.VsockExecPersistent, Logger: log}
	failing := false // a host that is not there yet is said once
	for ctx.Err() == nil {
		conn, err := dial(ctx)
		dialed := err == nil
		if dialed {
			failing = false
			err = vsockexec.Run(ctx, conn, opts)
		}
		switch {
		case err == nil, errors.Is(err, context.Canceled):
		case !dialed && failing:
			log.Debug("vsockexec: connect failed", "addr", o.VsockExec, "err", err)
		case !dialed:
			failing = true
			log.Warn("vsockexec: cannot connect to the host; retrying every second", "addr", o.VsockExec, "err", err)
		default:
			log.Warn("vsockexec: connection ended", "addr", o.VsockExec, "err", err)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// serveProkshy serves the prokshy port, waiting for it to appear (the
// driver may probe it after the agent starts) and trying again if it
// fails, until ctx ends.
func serveProkshy(ctx context.Context, srv *prokshy.Server, name string, log *slog.Logger) {
	for logged := false; ctx.Err() == nil; {
		err := srv.ServePort(ctx, name, channel.VirtioOptions{})
		if ctx.Err() != nil {
			return
		}
		if !logged {
			log.Warn("prokshy: port unavailable; retrying", "port", name, "err", err)
			logged = true
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
