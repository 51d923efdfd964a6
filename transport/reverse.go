package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
)

// newReverse returns the Listener of ListenConfig.Reverse over dial.
func newReverse(dial func(context.Context) (channel.Channel, error), t Target) *reverse {
	return &reverse{dial: dial, addr: reverseAddr(t.Scheme + ":" + t.Address), done: make(chan struct{})}
}

type reverse struct {
	dial func(context.Context) (channel.Channel, error)
	addr reverseAddr

	mu      sync.Mutex
	session <-chan struct{} // closed when the current session's channel closes
	wait    time.Duration   // before the next dial; grows while dials fail
	closed  bool
	done    chan struct{}
}

const (
	reverseMinWait = 100 * time.Millisecond
	reverseMaxWait = 5 * time.Second
)

func (r *reverse) Accept(ctx context.Context) (channel.Channel, error) {
	r.mu.Lock()
	prev, wait := r.session, r.wait
	r.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-r.done:
			return nil, fmt.Errorf("transport: reverse %s: %w", r.addr, channel.ErrClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.done:
			return nil, fmt.Errorf("transport: reverse %s: %w", r.addr, channel.ErrClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.done:
			cancel()
		case <-dctx.Done():
		}
	}()
	ch, err := r.dial(dctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		if ch != nil {
			ch.Close()
		}
		return nil, fmt.Errorf("transport: reverse %s: %w", r.addr, channel.ErrClosed)
	}
	if err != nil {
		r.session = nil
		r.wait = min(max(2*r.wait, reverseMinWait), reverseMaxWait)
		return nil, err
	}
	r.wait = reverseMinWait // before the next session's dial
	sess, ended := watchClose(ch)
	r.session = ended
	return sess, nil
}

func (r *reverse) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	return nil
}

func (r *reverse) Addr() net.Addr { return r.addr }

// reverseAddr names a reverse-mode target.
type reverseAddr string

func (a reverseAddr) Network() string { return "reverse" }
func (a reverseAddr) String() string  { return string(a) }

// watchClose returns ch and a channel closed when ch is closed. A
// *channel.Stream says so itself (Done); anything else is wrapped.
func watchClose(ch channel.Channel) (channel.Channel, <-chan struct{}) {
	if d, ok := ch.(interface{ Done() <-chan struct{} }); ok {
		return ch, d.Done()
	}
	w := &closeWatch{Channel: ch, ended: make(chan struct{})}
	return w, w.ended
}

type closeWatch struct {
	channel.Channel
	once  sync.Once
	ended chan struct{}
}

func (w *closeWatch) Close() error {
	err := w.Channel.Close()
	w.once.Do(func() { close(w.ended) })
	return err
}

func (w *closeWatch) PeerInfo() channel.PeerInfo { return channel.PeerOf(w.Channel) }
func (w *closeWatch) MaxPayload() uint32         { return channel.MaxPayload(w.Channel) }

func (w *closeWatch) ReceiveInterruptible() bool {
	i, ok := w.Channel.(channel.Interruptible)
	return ok && i.ReceiveInterruptible()
}
