package channel

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// NetListener adapts a net.Listener to a Listener: each accepted
// connection becomes a Stream.
type NetListener struct {
	l       net.Listener
	opts    StreamOptions
	addr    net.Addr // nil: l.Addr()
	cleanup func()   // run once by Close; nil for none
	once    sync.Once
	err     error
}

// NewListener returns a Listener that wraps each connection of l with
// NewStream(conn, opts).
func NewListener(l net.Listener, opts StreamOptions) *NetListener {
	return &NetListener{l: l, opts: opts}
}

// Accept waits for the next connection or for ctx to end.
func (nl *NetListener) Accept(ctx context.Context) (Channel, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d, ok := nl.l.(interface{ SetDeadline(time.Time) error }); ok && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = d.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				_ = d.SetDeadline(time.Time{})
			}
		}()
	}
	c, err := nl.l.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("channel: accept on %v: %w", nl.Addr(), err)
	}
	return NewStream(c, nl.opts), nil
}

// Close stops the listener; a unix socket made by ListenUnix is removed.
func (nl *NetListener) Close() error {
	nl.once.Do(func() {
		nl.err = nl.l.Close()
		if nl.cleanup != nil {
			nl.cleanup()
		}
	})
	return nl.err
}

// Addr returns the listening address.
func (nl *NetListener) Addr() net.Addr {
	if nl.addr != nil {
		return nl.addr
	}
	return nl.l.Addr()
}

// ListenUnix listens on the unix socket path with the default
// UnixOptions: a socket only its owner may connect to (0600).
func ListenUnix(path string, opts StreamOptions) (*NetListener, error) {
	return ListenUnixWith(path, UnixOptions{StreamOptions: opts})
}

// ListenTCP listens on the TCP address addr.
func ListenTCP(addr string, opts StreamOptions) (*NetListener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("channel: listen tcp %s: %w", addr, err)
	}
	return NewListener(l, opts), nil
}

// DialUnix connects to the unix socket path.
func DialUnix(ctx context.Context, path string, opts StreamOptions) (*Stream, error) {
	return dialNet(ctx, "unix", path, opts)
}

// DialTCP connects to the TCP address addr.
func DialTCP(ctx context.Context, addr string, opts StreamOptions) (*Stream, error) {
	return dialNet(ctx, "tcp", addr, opts)
}

func dialNet(ctx context.Context, network, addr string, opts StreamOptions) (*Stream, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("channel: dial %s %s: %w", network, addr, err)
	}
	return NewStream(c, opts), nil
}
