package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// Options configure the default agent.
type Options struct {
	Logger *slog.Logger
	// Name is announced to hosts in HELLO.
	Name string
	// Policy decides who may connect and what they may call, on every
	// listener that has no policy of its own (see Listen).
	Policy rpc.Policy
	// MaxConns caps connections across all listeners (0:
	// rpc.DefaultMaxConns).
	MaxConns int
}

// NewServer returns an rpc.Server with the default handlers registered.
func NewServer(opts Options) *rpc.Server {
	srv := rpc.NewServer(rpc.ServerOptions{Logger: opts.Logger, Name: opts.Name, Policy: opts.Policy, MaxConns: opts.MaxConns})
	return srv
}

// ServeAll serves srv on every listener and every dialed session until ctx
// ends, then shuts srv down gracefully, giving in-flight calls grace to
// finish. Dialers (reverse mode: the guest connects out and then serves)
// are redialed with back-off when their session ends.
func ServeAll(ctx context.Context, srv *rpc.Server, log *slog.Logger, grace time.Duration, listeners []channel.Listener, dialers []func(context.Context) (channel.Channel, error)) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("serving", "addr", l.Addr())
			if err := srv.Serve(serveCtx, l); err != nil && !errors.Is(err, rpc.ErrServerClosed) && serveCtx.Err() == nil {
				errs <- fmt.Errorf("serving %v: %w", l.Addr(), err)
			}
		}()
	}
	for _, dial := range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			redial(serveCtx, srv, log, dial)
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("shutdown grace ran out; canceled remaining calls", "error", serr)
	}
	stopServing()
	wg.Wait()
	return err
}

func redial(ctx context.Context, srv *rpc.Server, log *slog.Logger, dial func(context.Context) (channel.Channel, error)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ch, err := dial(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			err = srv.ServeChannel(ctx, ch)
			if errors.Is(err, rpc.ErrServerClosed) {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		log.Info("reverse session ended; redialing", "error", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
