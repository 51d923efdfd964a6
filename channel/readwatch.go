package channel

import (
	"context"
	"sync"
	"time"
)

// readWatch makes a ctx's end interrupt the Receive waiting under it, by
// setting the read deadline in the past.
//
// A client that calls with one long-lived ctx, as most do, would
// register with it (context.AfterFunc) and unregister on every frame it
// reads, which allocates and touches the ctx's map of children twice,
// about as much memory as the rest of a call's client side, and costs on
// a cold cache accordingly. So a ctx met by two Receives in a row keeps
// its registration for the Receives that follow. A ctx met once is
// unregistered when its Receive returns, as before: most such ctxs are a
// call's own and end right after it, and a registration kept past that
// would start a goroutine for nothing when they end.
//
// Contexts are told apart by their Done channels, which end together by
// definition and, unlike the contexts themselves (any type may implement
// context.Context), are always comparable.
type readWatch struct {
	mu      sync.Mutex
	done    <-chan struct{} // Done of the ctx registered with, or nil
	stop    func() bool
	last    <-chan struct{} // Done of the previous Receive's ctx
	reading bool            // a Receive under done is waiting
	fired   bool            // the callback set the deadline during that Receive
}

// begin marks a Receive under ctx, which can end (done is its Done), as
// waiting.
func (w *readWatch) begin(ctx context.Context, done <-chan struct{}, dl deadliner) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != done {
		w.dropLocked()
		w.done = done
		w.stop = context.AfterFunc(ctx, func() { w.fire(done, dl) })
	}
	w.reading = true
}

// fire is the callback for the end of the ctx whose Done is done.
func (w *readWatch) fire(done <-chan struct{}, dl deadliner) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reading && w.done == done {
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
	if w.done != w.last {
		// The first Receive under this ctx: keep nothing yet.
		w.last = w.done
		w.dropLocked()
	}
	return fired
}

// release drops the registration, so that a long-lived ctx does not keep
// a closed stream.
func (w *readWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropLocked()
	w.last = nil
}

func (w *readWatch) dropLocked() {
	if w.stop != nil {
		w.stop()
	}
	w.done, w.stop = nil, nil
}
