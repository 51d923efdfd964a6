package channel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// NetListener adapts a net.Listener to a Listener: each accepted
// connection becomes a Stream.
type NetListener struct {
	l    net.Listener
	opts StreamOptions
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
		return nil, fmt.Errorf("channel: accept on %v: %w", nl.l.Addr(), err)
	}
	return NewStream(c, nl.opts), nil
}

// Close stops the listener.
func (nl *NetListener) Close() error { return nl.l.Close() }

// Addr returns the listening address.
func (nl *NetListener) Addr() net.Addr { return nl.l.Addr() }

// ListenUnix listens on the unix socket path, removing a stale socket
// file left by an earlier run (but never a live one or a non-socket).
func ListenUnix(path string, opts StreamOptions) (*NetListener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("channel: listen unix %s: %w", path, errAddrInUse)
		}
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("channel: listen unix %s: %w", path, err)
	}
	return NewListener(l, opts), nil
}

var errAddrInUse = errors.New("a live socket is already listening there")

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
