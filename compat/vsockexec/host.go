package vsockexec

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	mdvsock "github.com/mdlayher/vsock"

	"github.com/guestrpc/guestrpc/vsock"
)

// Host side: the guest connects to the host, so the host listens — on
// AF_VSOCK (Linux with vhost-vsock), or on the unix socket a hypervisor
// turns guest connections into.

// ListenVsock listens on AF_VSOCK port on the host.
func ListenVsock(port uint32) (net.Listener, error) {
	l, err := mdvsock.Listen(port, nil)
	if err != nil {
		return nil, fmt.Errorf("vsockexec: listen on vsock port %d: %w", port, err)
	}
	return l, nil
}

// ListenHybrid listens where Firecracker and Cloud Hypervisor deliver
// guest connections to host port: the unix socket "<uds>_<port>".
func ListenHybrid(uds string, port uint32) (net.Listener, error) {
	return listenUnix(vsock.HybridListenPath(uds, port))
}

// ListenHyperkit listens where hyperkit delivers guest connections to
// host port: "00000002.<port in hex>" in the VM's state directory.
func ListenHyperkit(dir string, port uint32) (net.Listener, error) {
	return listenUnix(vsock.HyperkitSocket(dir, vsock.CIDHost, port))
}

func listenUnix(path string) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("vsockexec: %w", err)
	}
	return l, nil
}

// Conn is the guest's connection, on which the host sends commands.
type Conn struct {
	mu sync.Mutex
	c  net.Conn
}

// Accept waits for the guest to connect to l; ctx ends the wait (for
// listeners with deadlines, as every one above has).
func Accept(ctx context.Context, l net.Listener) (*Conn, error) {
	if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				_ = d.SetDeadline(time.Time{})
			}
		}()
	}
	c, err := l.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("vsockexec: accept: %w", err)
	}
	return NewConn(c), nil
}

// NewConn wraps a guest connection.
func NewConn(c net.Conn) *Conn { return &Conn{c: c} }

// Send sends one persistent-mode command (safe for concurrent use: each
// command is written whole).
func (c *Conn) Send(ctx context.Context, cmd string) error {
	b, err := AppendCommand(nil, cmd)
	if err != nil {
		return err
	}
	return c.write(ctx, b)
}

// SendDisposable sends the one command of disposable mode, in one
// write so that the guest's one read takes it whole (over a socket that
// does not split it).
func (c *Conn) SendDisposable(ctx context.Context, cmd string) error {
	if len(cmd) > MaxCommand {
		return fmt.Errorf("%w: %d bytes", ErrTooLong, len(cmd))
	}
	return c.write(ctx, []byte(cmd))
}

func (c *Conn) write(ctx context.Context, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := c.c.Write(b)
	if !stop() {
		_ = c.c.SetWriteDeadline(time.Time{})
		if err != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("vsockexec: send: %w", err)
	}
	return nil
}

// Close disconnects, which ends the guest's persistent loop.
func (c *Conn) Close() error { return c.c.Close() }
