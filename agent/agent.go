package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// Serve serves the agent on every listener until ctx ends, then shuts
// the server down gracefully: calls in flight get Config.ShutdownGrace
// to finish before they are canceled. Listeners come from
// transport.Listen or transport.ListenConfig (target strings, reverse
// mode included), from package channel or vsock, or from ListenVMware.
// Serve closes them before it returns. It returns nil after ctx ends, or
// the error of a listener that failed, after shutting down the rest.
// Once Serve has returned the agent serves no more, as after
// rpc.Server.Shutdown; Close it.
func (a *Agent) Serve(ctx context.Context, listeners ...channel.Listener) error {
	if len(listeners) == 0 {
		return errors.New("agent: Serve: no listeners")
	}
	// The listeners run until shutdown has drained the calls, not merely
	// until ctx ends: canceling their ctx would cancel the calls at once.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.log.Info("serving", "addr", l.Addr())
			if err := a.Server.Serve(serveCtx, l); err != nil && !errors.Is(err, rpc.ErrServerClosed) && serveCtx.Err() == nil {
				errs <- fmt.Errorf("agent: serving %v: %w", l.Addr(), err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	a.log.Info("shutting down", "grace", a.grace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.grace)
	defer cancel()
	if serr := a.Server.Shutdown(sctx); serr != nil {
		a.log.Warn("shutdown grace ran out; canceled remaining calls", "error", serr)
	}
	stopServing()
	wg.Wait()
	return err
}
