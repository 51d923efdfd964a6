package process

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Dial connects to address on network ("tcp", "tcp4", "tcp6" or "unix")
// as seen from inside the guest and returns the connection as a
// net.Conn. ctx bounds only the dialing, as with net.Dialer.
//
// Read deadlines interrupt a blocked Read. A write deadline is checked
// when Write starts; a Write blocked on flow control ends with Close.
func (c *Client) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := c.rc.Open(context.WithoutCancel(ctx), MethodDial, DialRequest{Network: network, Address: address})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	_, err = readEvent(s, "connected")
	if !stop() {
		s.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr{network, address}, Err: ctx.Err()}
	}
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr{network, address}, Err: err}
	}
	sc := &streamConn{s: s, remote: addr{network, address}, data: make(chan []byte), closed: make(chan struct{})}
	sc.rdl.init()
	go sc.reader()
	return sc, nil
}

// addr is a guest address.
type addr struct{ network, address string }

func (a addr) Network() string { return a.network }
func (a addr) String() string  { return a.address }

// streamConn is a net.Conn over a net.dial stream. A goroutine reads the
// stream so that Read can honor deadlines.
type streamConn struct {
	s      *rpc.Stream
	remote addr

	data    chan []byte // chunks from reader; closed at the stream's end
	rerr    error       // why data was closed; read after it is
	pending []byte
	rmu     sync.Mutex // serializes Read

	rdl       deadline
	wmu       sync.Mutex
	wdl       time.Time
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *streamConn) reader() {
	defer close(c.data)
	for {
		buf := make([]byte, 32<<10)
		n, err := c.s.Read(buf)
		if n > 0 {
			select {
			case c.data <- buf[:n]:
			case <-c.closed:
				c.rerr = net.ErrClosed
				return
			}
		}
		if err != nil {
			c.rerr = err
			return
		}
	}
}

func (c *streamConn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: c.remote.network, Addr: c.remote, Err: err}
}

// Read reads bytes sent from the guest address; io.EOF once it closed.
func (c *streamConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) == 0 {
		select {
		case <-c.closed:
			return 0, c.opErr("read", net.ErrClosed)
		default:
		}
		select {
		case b, ok := <-c.data:
			if !ok {
				return 0, c.opErr("read", c.rerr)
			}
			c.pending = b
		case <-c.rdl.wait():
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		case <-c.closed:
			return 0, c.opErr("read", net.ErrClosed)
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write sends p to the guest address.
func (c *streamConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	dl := c.wdl
	c.wmu.Unlock()
	if !dl.IsZero() && !time.Now().Before(dl) {
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	select {
	case <-c.closed:
		return 0, c.opErr("write", net.ErrClosed)
	default:
	}
	n, err := c.s.Write(p)
	return n, c.opErr("write", err)
}

// CloseWrite half-closes: the guest connection sees EOF.
func (c *streamConn) CloseWrite() error { return c.opErr("close", c.s.CloseWrite()) }

// Close ends the stream; the agent closes its connection.
func (c *streamConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.s.Close()
	})
	return nil
}

func (c *streamConn) LocalAddr() net.Addr  { return addr{"guestrpc", "host"} }
func (c *streamConn) RemoteAddr() net.Addr { return c.remote }

func (c *streamConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *streamConn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

func (c *streamConn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.wdl = t
	c.wmu.Unlock()
	return nil
}

// deadline is a channel closed when a settable time passes (as in
// net.Pipe).
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func (d *deadline) init() { d.cancel = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
