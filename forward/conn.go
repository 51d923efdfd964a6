package forward

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// connChunk bounds the bytes a Write hands to the sending goroutine at a
// time, like a socket's send buffer.
const connChunk = 64 << 10

// connLinger bounds how long a closed connection keeps flushing what was
// written before Close and waiting for the guest side to finish.
const connLinger = 2 * time.Second

// addr is a guest address.
type addr struct{ network, address string }

func (a addr) Network() string { return a.network }
func (a addr) String() string  { return a.address }

// streamConn is a net.Conn over a net.dial stream. A reader goroutine
// feeds Read so that it can honor deadlines; a writer goroutine sends
// what Write queued, so that Write can too.
type streamConn struct {
	s      *rpc.Stream
	remote addr

	data    chan []byte // chunks from reader; closed at the stream's end
	rerr    error       // why data was closed; read after it is
	pending []byte
	rmu     sync.Mutex // serializes Read
	rdl     deadline

	wmu       sync.Mutex // serializes Write and CloseWrite
	wdl       deadline
	queue     chan []byte // a chunk for the writer (cap 1)
	free      chan []byte // the chunk buffer, when the writer is done with it
	werrMu    sync.Mutex
	werr      error // sticky send error
	halfClose chan struct{}
	wclosed   bool // guarded by wmu

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
			case <-c.closed: // drop: nobody reads any more, but drain the stream
			}
		}
		if err != nil {
			c.rerr = err
			return
		}
	}
}

// writer sends queued chunks in order; on CloseWrite or Close it sends
// what is queued, half-closes and ends. It also ends with the stream.
func (c *streamConn) writer() {
	send := func(b []byte) {
		if c.sendErr() == nil {
			if _, err := c.s.Write(b); err != nil {
				c.werrMu.Lock()
				c.werr = err
				c.werrMu.Unlock()
			}
		}
		c.free <- b[:cap(b)]
	}
	for {
		select {
		case b := <-c.queue:
			send(b)
			continue
		case <-c.s.Done():
			return
		case <-c.halfClose:
		case <-c.closed:
		}
		select {
		case b := <-c.queue:
			send(b)
		default:
		}
		_ = c.s.CloseWrite()
		return
	}
}

func (c *streamConn) sendErr() error {
	c.werrMu.Lock()
	defer c.werrMu.Unlock()
	return c.werr
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
	switch {
	case isClosed(c.closed):
		return 0, c.opErr("read", net.ErrClosed)
	case isClosed(c.rdl.wait()):
		return 0, c.opErr("read", os.ErrDeadlineExceeded)
	}
	if len(c.pending) == 0 {
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

// Write queues p for the guest address, blocking while the send buffer
// is full.
func (c *streamConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for {
		switch {
		case isClosed(c.closed):
			return n, c.opErr("write", net.ErrClosed)
		case c.wclosed:
			return n, c.opErr("write", errors.New("write after CloseWrite"))
		case isClosed(c.wdl.wait()):
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		case len(p) == 0:
			return n, nil
		}
		select {
		case buf := <-c.free:
			if err := c.sendErr(); err != nil {
				c.free <- buf
				return n, c.opErr("write", err)
			}
			k := copy(buf, p)
			c.queue <- buf[:k]
			n, p = n+k, p[k:]
		case <-c.wdl.wait():
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		case <-c.closed:
			return n, c.opErr("write", net.ErrClosed)
		case <-c.s.Done():
			if err := c.sendErr(); err != nil {
				return n, c.opErr("write", err)
			}
			return n, c.opErr("write", net.ErrClosed)
		}
	}
}

// CloseWrite half-closes: once what was written is sent, the guest
// connection sees EOF.
func (c *streamConn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.wclosed {
		c.wclosed = true
		close(c.halfClose)
	}
	return nil
}

// Close stops local Reads and Writes at once; what was written is still
// sent, then the guest side sees EOF (see Dial).
func (c *streamConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		time.AfterFunc(connLinger, func() { c.s.Close() })
	})
	return nil
}

func (c *streamConn) LocalAddr() net.Addr  { return addr{"guestrpc", "host"} }
func (c *streamConn) RemoteAddr() net.Addr { return c.remote }

func (c *streamConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

func (c *streamConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *streamConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

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
