package channel

import (
	"context"
	"net"

	"github.com/guestrpc/guestrpc/wire"
)

// Channel sends and receives whole frames.
//
// Send is safe for concurrent use. Receive is not: calls must not overlap,
// though they may come from different goroutines; the frame's Payload is
// valid only until the next Receive. Both return
// promptly with an error wrapping ErrClosed after Close.
type Channel interface {
	Send(ctx context.Context, f *wire.Frame) error
	Receive(ctx context.Context, f *wire.Frame) error
	Close() error
	// RemoteAddr returns the peer's address, or nil when the transport
	// has none.
	RemoteAddr() net.Addr
}

// Listener yields a Channel for each peer session.
type Listener interface {
	// Accept waits for the next session. It returns an error wrapping
	// ErrClosed after Close.
	Accept(ctx context.Context) (Channel, error)
	Close() error
	Addr() net.Addr
}

// Interruptible is implemented by channels that can tell whether a
// context ending interrupts a blocked Receive. When ReceiveInterruptible
// reports true, Receive returns the context's error promptly once ctx
// ends, and the channel stays usable: a frame it was in the middle of is
// finished by the next Receive. rpc.Client reads a call's reply on the
// calling goroutine only from such channels.
type Interruptible interface {
	ReceiveInterruptible() bool
}

// PayloadLimiter is implemented by channels whose receive side has a
// payload cap other than wire.DefaultMaxPayload; rpc announces it in HELLO.
type PayloadLimiter interface {
	MaxPayload() uint32
}

// Errors. Use errors.Is to test for them.
var (
	// ErrClosed is returned by operations on a closed Channel or Listener.
	// It wraps net.ErrClosed so both tests work.
	ErrClosed = net.ErrClosed
)

// MaxPayload returns the receive payload cap of ch.
func MaxPayload(ch Channel) uint32 {
	if l, ok := ch.(PayloadLimiter); ok {
		if n := l.MaxPayload(); n != 0 {
			return n
		}
	}
	return wire.DefaultMaxPayload
}
