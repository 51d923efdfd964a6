package channel

import (
	"context"
	"sync"
	"time"
)

// readWatch makes a ctx's end interrupt the Receive waiting under it, by
// setting the read deadline in the past. It registers with a ctx once
// (context.AfterFunc) and keeps the registration for the Receives that
// follow under the same ctx: a client that calls with one long-lived
// ctx, as most do, would otherwise register and unregister on every
// reply it reads, which allocates and touches the ctx's map of children
// twice, about as much memory as the rest of a call's client side, and
// costs on a cold cache accordingly. A registration outlives the Receive
// that made it, so the callback interrupts only a Receive in progress
// under its own ctx.
type readWatch struct {
	mu      sync.Mutex
	ctx     context.Context // the ctx registered with, or nil
	stop    func() bool
	reading bool // a Receive under ctx is waiting
	fired   bool // the callback set the deadline during that Receive
}

// begin marks a Receive under ctx, which can end, as waiting.
func (w *readWatch) begin(ctx context.Context, dl deadliner) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx != ctx {
		if w.stop != nil {
			w.stop()
		}
		w.ctx = ctx
		w.stop = context.AfterFunc(ctx, func() { w.fire(ctx, dl) })
	}
	w.reading = true
}

// fire is the callback for ctx's end.
func (w *readWatch) fire(ctx context.Context, dl deadliner) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reading && w.ctx == ctx {
		_ = dl.SetReadDeadline(time.Unix(1, 0))
		w.fired = true
	}
}

// end marks the Receive done and reports whether ctx's end interrupted
// it; the caller then clears the deadline.
func (w *readWatch) end() (fired bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fired, w.reading, w.fired = w.fired, false, false
	return fired
}

// release drops the registration, so that a long-lived ctx does not keep
// a closed stream.
func (w *readWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		w.stop()
	}
	w.ctx, w.stop = nil, nil
}
