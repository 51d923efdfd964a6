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
// A unary Call that finds nobody reading reads its own reply on the
// calling goroutine, handling on the way any frame for other streams
// that arrives first. This saves the hand-off from a read loop to the
// waiting caller, which costs more than the rest of a round trip's work
// in user space. BenchmarkCallReadPath measures it: a sys.ping handed its
// reply by the background reader takes 1.2–1.4 times as long as one that
// reads its own (x-self, unix socket, two cores). Calls that find
// someone reading wait to be handed their
// reply, as do streams and pings, for which a background reader takes
// the connection whenever it is free and something waits.
//
// With nothing in flight the background reader steps aside, so that the
// next call can read for itself, and takes the connection again after a
// quiet period of idleRead, so that a connection left idle still notices
// the agent going away.
//
// Callers read only from channels whose Receive their ctx can interrupt
// without harm (channel.Interruptible); on other channels the background
// reader reads all the time.
type clientReader struct {
	rmu      sync.Mutex
	role     readRole
	activity uint64        // bumped whenever a caller stops reading
	wake     chan struct{} // capacity 1: the background reader should look
	callers  bool          // calls may read their own replies
	frame    wire.Frame    // the reading caller's frame
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
	c.wg.Add(1)
	go c.readBackground()
	if !c.reader.callers {
		c.wakeBackground() // it is the only reader: start now
	}
}

// busy reports whether a stream or ping waits for frames.
func (c *Client) busy() bool {
	c.smu.Lock()
	n := len(c.streams)
	c.smu.Unlock()
	if n > 0 {
		return true
	}
	c.pmu.Lock()
	n = len(c.pings)
	c.pmu.Unlock()
	return n > 0
}

// readBackground reads the connection whenever callers are not.
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
		if r.callers && r.activity != seen && !c.busy() {
			// Calls have been reading for themselves: leave them the
			// connection until it has been quiet for a while.
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
			c.yield()
			r.rmu.Lock()
			if r.callers && !c.busy() {
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

// needReader makes sure someone reads for a stream or ping that cannot
// read for itself.
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

// tryRead makes the calling goroutine the reader if nobody reads.
func (c *Client) tryRead() bool {
	r := &c.reader
	if !r.callers {
		return false
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.role != roleFree {
		return false
	}
	r.role = roleCaller
	return true
}

// stopReading gives the connection up; the background reader takes it if
// anything still waits.
func (c *Client) stopReading() {
	r := &c.reader
	r.rmu.Lock()
	r.role = roleFree
	r.activity++
	busy := c.busy()
	r.rmu.Unlock()
	if busy {
		c.wakeBackground()
	}
}

// awaitReply waits until done is closed, reading the connection on the
// calling goroutine if nobody else does (readSelf) and otherwise being
// handed the reply. It returns nil once done is closed, ctx's error when
// ctx ends first, or the error of operations on a closed connection.
// Call and Ping share it.
func (c *Client) awaitReply(ctx context.Context, done <-chan struct{}) (readSelf bool, err error) {
	if c.tryRead() {
		return true, c.readUntil(ctx, done)
	}
	c.needReader()
	select {
	case <-done:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-c.closed:
		return false, c.connErr()
	}
}

// readUntil reads frames on the calling goroutine, which holds the
// reader role, until done is closed (nil), ctx ends (ctx's error) or the
// connection does (the error of operations on a closed connection).
func (c *Client) readUntil(ctx context.Context, done <-chan struct{}) error {
	defer c.stopReading()
	for {
		select {
		case <-done:
			return nil
		default:
		}
		if err := c.readFrame(ctx, &c.reader.frame, c.handle); err != nil {
			if cerr := ctx.Err(); cerr != nil && err == cerr {
				return cerr
			}
			return c.connErr()
		}
	}
}
