package rpc

import (
	"sync"
	"sync/atomic"
)

// doneSignal says that something has ended (a stream, a PING): a flag
// for whoever looks, and a channel, closed then, made only for those who
// wait on one. A caller that reads its own reply looks at the flag, so
// that a call makes, closes and receives from no channel: on a cold
// cache, as an idle agent's calls find it, that is a tenth of a call's
// client-side latency.
type doneSignal struct {
	ended atomic.Bool
	mu    sync.Mutex
	ch    chan struct{}
}

// isDone reports whether end has been called.
func (d *doneSignal) isDone() bool { return d.ended.Load() }

// wait returns a channel that is closed once end has been called.
func (d *doneSignal) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil {
		d.ch = make(chan struct{})
		if d.ended.Load() {
			close(d.ch)
		}
	}
	return d.ch
}

// end marks the end, once.
func (d *doneSignal) end() {
	d.mu.Lock()
	if !d.ended.Load() {
		d.ended.Store(true)
		if d.ch != nil {
			close(d.ch)
		}
	}
	d.mu.Unlock()
}
