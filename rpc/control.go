package rpc

import (
	"context"
	"fmt"

	"github.com/guestrpc/guestrpc/wire"
)

// Control frames (WINDOW, PONG, CANCEL, a refusal's STATUS) are queued
// and written by whichever goroutine next releases the write lock, or at
// once by the queuing goroutine when the lock is free: a connection has
// no writer goroutine of its own, so an idle one costs none. A reader
// never waits to write (blocked on a full socket it would stop reading,
// and a peer blocked writing to it too): it writes a control frame only
// if the socket takes it at once (TrySend), and otherwise starts a
// flusher goroutine that lives until the queue is empty.

// queue sends a control frame from the goroutine reading the connection,
// without ever blocking, so the read loop always keeps reading.
func (c *conn) queue(cf ctrlFrame) error {
	if c.nctrl.Load() == 0 && c.wmu.TryLock() {
		sent, err := c.trySend(&cf)
		c.wmu.Unlock() // not unlockWrite: its writes may block
		if err != nil {
			return err
		}
		if sent {
			if c.nctrl.Load() > 0 {
				// Queued while we held the lock, by a goroutine that
				// left the writing to us.
				c.startFlusher()
			}
			return nil
		}
	}
	if err := c.appendCtrl(cf); err != nil {
		return err
	}
	c.startFlusher()
	return nil
}

// startFlusher starts a flusher goroutine unless one is running.
func (c *conn) startFlusher() {
	c.cmu.Lock()
	start := !c.flushing && !c.ctrlDone
	if start {
		c.flushing = true
		c.wg.Add(1)
	}
	c.cmu.Unlock()
	if start {
		go c.flushControl()
	}
}

// trySender is implemented by channels that can write a frame only if
// that does not block (channel.Stream on a socket).
type trySender interface {
	TrySend(f *wire.Frame) (bool, error)
}

// trySend writes cf if the channel takes it at once. Called with wmu
// held.
func (c *conn) trySend(cf *ctrlFrame) (bool, error) {
	ts, ok := c.ch.(trySender)
	if !ok {
		return false, nil
	}
	f := cf.frame()
	sent, err := ts.TrySend(&f)
	if err != nil {
		c.close(err)
		return false, c.connErr()
	}
	return sent, nil
}

// frame is the wire frame of cf; its payload aliases cf.
func (cf *ctrlFrame) frame() wire.Frame {
	f := wire.Frame{StreamID: cf.id, Type: cf.typ, Flags: cf.flags, Payload: cf.payload}
	if cf.payload == nil {
		f.Payload = cf.inline[:cf.n]
	}
	return f
}

// queueCaller queues a control frame from a goroutine that does not read
// the connection and holds no stream lock, and writes it at once when
// nobody else is writing.
func (c *conn) queueCaller(cf ctrlFrame) error {
	if err := c.appendCtrl(cf); err != nil {
		return err
	}
	c.flushIfFree()
	return nil
}

// appendCtrl queues cf; it fails when the peer has let too many pile up.
func (c *conn) appendCtrl(cf ctrlFrame) error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if len(c.ctrl) >= maxControlQueue {
		return fmt.Errorf("%w: peer is not reading (%d control frames queued)", errProtocol, maxControlQueue)
	}
	c.ctrl = append(c.ctrl, cf)
	c.nctrl.Store(int32(len(c.ctrl)))
	return nil
}

// queueWindow queues a WINDOW frame. Called with a stream's lock held, it
// only appends; the caller calls flushIfFree once it has let go.
func (c *conn) queueWindow(id uint32, n uint32) {
	cf := ctrlFrame{id: id, typ: wire.TypeWindow, n: 4}
	wire.AppendWindow(cf.inline[:0], n)
	if err := c.appendCtrl(cf); err != nil {
		c.close(err)
	}
}

// flushIfFree writes the queued control frames when no other goroutine
// is writing; one that is writes them when it is done.
func (c *conn) flushIfFree() {
	if c.nctrl.Load() > 0 && c.wmu.TryLock() {
		c.unlockWrite()
	}
}

// flushControl is a client's flusher goroutine.
func (c *conn) flushControl() {
	defer c.wg.Done()
	c.wmu.Lock()
	c.cmu.Lock()
	c.flushing = false // from here on unlockWrite sees what is queued
	c.cmu.Unlock()
	c.unlockWrite()
}

// unlockWrite releases wmu after writing the control frames queued while
// it was held; it looks again after releasing it, so that a frame queued
// by a goroutine whose TryLock failed is never left behind.
func (c *conn) unlockWrite() {
	for {
		if c.nctrl.Load() > 0 {
			c.flushLocked()
		}
		c.wmu.Unlock()
		if c.nctrl.Load() == 0 || !c.wmu.TryLock() {
			return
		}
	}
}

// flushLocked writes the queued control frames. Called with wmu held.
func (c *conn) flushLocked() {
	c.cmu.Lock()
	batch := c.ctrl
	c.ctrl = c.cspare[:0]
	c.nctrl.Store(0)
	c.cmu.Unlock()
	for i := range batch {
		f := batch[i].frame()
		c.writing.Add(1)
		err := c.ch.Send(context.Background(), &f)
		c.wroteFrame()
		if err != nil {
			c.close(err)
			break
		}
	}
	clear(batch)
	c.cspare = batch[:0]
}
