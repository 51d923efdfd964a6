package rpc

import (
	"context"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// Who reads a client's connection.
//
// A goroutine that waits for something from the agent (a Call's reply,
// a stream's DATA, window or status, a PONG) and finds nobody reading
// reads the connection itself, handling on the way any frame for other
// streams that arrives first, until what it waits for has come. This
// saves the hand-off from a read loop to the waiting goroutine, which
// costs more than the rest of a round trip's work in user space.
// BenchmarkCallReadPath measures it for calls: a sys.ping handed its
// reply by the background reader takes 1.2–1.4 times as long as one that
// reads its own (x-self, unix socket, two cores); a download that reads
// its own DATA spares a hand-off per frame. Goroutines that find someone
// reading wait to be handed what they wait for, and are counted in
// waiting: the reader that stops while any wait wakes the background
// reader to read for them.
//
// The background reader reads when a waiting goroutine needs it. It
// steps aside once a frame it read went to a waiting goroutine and none
// waits any more, or nothing is open, so that the next wait can read for
// itself; frames nobody waits for it reads on. It also takes the connection after a
// quiet period of idleRead in which no goroutine read, so that a stream
// nobody waits on has its DATA taken in (up to its window) and a
// connection left idle still notices the agent going away.
//
// Goroutines read only from channels whose Receive their ctx can
// interrupt without harm (channel.Interruptible); on other channels the
// background reader reads all the time.
type clientReader struct {
	rmu      sync.Mutex
	role     readRole
	activity uint64 // bumped whenever a caller stops reading
	waiting  int    // goroutines waiting to be handed frames
	// interrupt ends the read of a stream's waiter that reads for
	// itself (awaitStream); nil when none does.
	interrupt context.CancelFunc
	wake      chan struct{} // capacity 1: the background reader should look
	callers   bool          // waiting goroutines may read for themselves
	frame     wire.Frame    // the reading caller's frame
}

type readRole uint8

const (
	roleFree readRole = iota
	roleCaller
	roleBackground
)

// idleRead is the quiet period after which the background reader takes
// an idle connection back from callers.
const idleRead = 5 * time.Millisecond

func (c *Client) startReading() {
	c.readDirect()
	c.reader.wake = make(chan struct{}, 1)
	if i, ok := c.ch.(channel.Interruptible); ok && i.ReceiveInterruptible() {
		c.reader.callers = true
	}
	c.waiter = c
	c.wg.Add(1)
	go c.readBackground()
	if !c.reader.callers {
		c.wakeBackground() // it is the only reader: start now
	}
}

// busy reports whether a stream is open or a ping in flight.
func (c *Client) busy() bool {
	c.smu.Lock()
	n := c.streams.len()
	c.smu.Unlock()
	if n > 0 {
		return true
	}
	return c.pingsInFlight() > 0
}

// readBackground reads the connection whenever a waiting goroutine needs
// it to, or it has been quiet (see clientReader).
func (c *Client) readBackground() {
	defer c.wg.Done()
	r := &c.reader
	quiet := time.NewTimer(idleRead)
	defer quiet.Stop()
	var seen uint64
	var f wire.Frame
	for {
		select {
		case <-r.wake:
		case <-quiet.C:
		case <-c.closed:
			return
		}
		r.rmu.Lock()
		if r.role != roleFree {
			r.rmu.Unlock()
			quiet.Reset(idleRead)
			continue
		}
		if r.callers && r.activity != seen && (r.waiting == 0 || !c.busy()) {
			// Nobody needs a frame read, and goroutines have been
			// reading for themselves: leave them the connection
			// until it has been quiet for a while.
			seen = r.activity
			r.rmu.Unlock()
			quiet.Reset(idleRead)
			continue
		}
		r.role = roleBackground
		r.rmu.Unlock()
		for {
			if c.readFrame(context.Background(), &f, c.handle) != nil {
				return
			}
			handed := c.woke.Load() // the frame woke a waiting goroutine
			c.yield()
			r.rmu.Lock()
			// Step aside when nothing is open (whoever waited has had
			// what it waited for), or when the frame went to a waiting
			// goroutine and none waits now: that one may read its next
			// frame itself. Frames nobody waits for are read on, so
			// that a stream's DATA comes in at the pace it is sent.
			if r.callers && (!c.busy() || (handed && r.waiting == 0)) {
				r.role = roleFree
				seen = r.activity
				r.rmu.Unlock()
				quiet.Reset(idleRead)
				break
			}
			r.rmu.Unlock()
		}
	}
}

// needReader makes sure someone reads for a goroutine that waits to be
// handed a frame.
func (c *Client) needReader() {
	r := &c.reader
	r.rmu.Lock()
	free := r.role == roleFree
	r.rmu.Unlock()
	if free {
		c.wakeBackground()
	}
}

func (c *Client) wakeBackground() {
	select {
	case c.reader.wake <- struct{}{}:
	default:
	}
}

// tryRead makes the calling goroutine the reader if nobody reads;
// otherwise it counts the goroutine as waiting, until doneWaiting.
func (c *Client) tryRead() bool {
	r := &c.reader
	if !r.callers {
		return false
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.role != roleFree {
		r.waiting++
		return false
	}
	r.role = roleCaller
	return true
}

// doneWaiting ends a wait that tryRead counted.
func (c *Client) doneWaiting() {
	r := &c.reader
	if !r.callers {
		return
	}
	r.rmu.Lock()
	r.waiting--
	r.rmu.Unlock()
}

// tryReadInterruptible is tryRead for a stream's waiter: it returns a
// ctx under ctx to read with, which interruptReader ends.
func (c *Client) tryReadInterruptible(ctx context.Context) (context.Context, bool) {
	r := &c.reader
	if !r.callers {
		return nil, false
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.role != roleFree {
		r.waiting++
		return nil, false
	}
	r.role = roleCaller
	rctx, cancel := context.WithCancel(ctx)
	r.interrupt = cancel
	return rctx, true
}

// interruptReader ends the read of a stream's waiter reading for itself.
func (c *Client) interruptReader() {
	r := &c.reader
	r.rmu.Lock()
	if r.interrupt != nil {
		r.interrupt()
	}
	r.rmu.Unlock()
}

// stopReading gives the connection up; the background reader takes it if
// a goroutine waits to be handed a frame. With nothing open, no wait
// needs one: whoever waited has been given what it waited for.
func (c *Client) stopReading() {
	r := &c.reader
	r.rmu.Lock()
	r.role = roleFree
	r.activity++
	if r.interrupt != nil {
		r.interrupt() // releases the read's ctx
		r.interrupt = nil
	}
	waiting := r.waiting > 0
	r.rmu.Unlock()
	if waiting && c.busy() {
		c.wakeBackground()
	}
}

// awaitSignal waits until d has ended, reading the connection on the
// calling goroutine if nobody else does (readSelf), and looking then at
// d's flag, which makes no channel (see doneSignal); otherwise it is
// handed the reply. It returns nil once d has ended, ctx's error when
// ctx ends first, or the error of operations on a closed connection.
// Calls and pings use it.
func (c *Client) awaitSignal(ctx context.Context, d *doneSignal) (readSelf bool, err error) {
	if c.tryRead() {
		return true, c.readUntil(ctx, nil, d)
	}
	defer c.doneWaiting()
	c.needReader()
	return false, c.waitDone(ctx, d.wait())
}

// awaitStream is awaitSignal for a stream's waits (conn.waiter). What a
// stream's waiter waits for can also come from this side (Close,
// CloseWrite) while it reads, with no frame on its way to end the read:
// interruptReader then ends it, and awaitStream returns nil for the
// caller to look again.
func (c *Client) awaitStream(ctx context.Context, done <-chan struct{}) error {
	if rctx, ok := c.tryReadInterruptible(ctx); ok {
		err := c.readUntil(rctx, done, nil)
		if err != nil && ctx.Err() == nil && rctx.Err() != nil {
			return nil // interrupted
		}
		return err
	}
	defer c.doneWaiting()
	c.needReader()
	return c.waitDone(ctx, done)
}

// readUntil reads frames on the calling goroutine, which holds the
// reader role, until done is closed or, when d is not nil, d has ended
// (nil), ctx ends (ctx's error) or the connection does (the error of
// operations on a closed connection).
func (c *Client) readUntil(ctx context.Context, done <-chan struct{}, d *doneSignal) error {
	defer c.stopReading()
	for {
		if d != nil {
			if d.isDone() {
				return nil
			}
		} else {
			select {
			case <-done:
				return nil
			default:
			}
		}
		if err := c.readFrame(ctx, &c.reader.frame, c.handle); err != nil {
			if cerr := ctx.Err(); cerr != nil && err == cerr {
				return cerr
			}
			return c.connErr()
		}
	}
}
