package rpc

import (
	"context"
	"time"

	"github.com/guestrpc/guestrpc/wire"
)

// pingWait is a PING in flight.
type pingWait struct {
	seq  uint64
	done doneSignal
	buf  [8]byte // the PING's payload
}

// Ping sends a protocol-level PING and returns the round-trip time. A
// ctx that has already ended returns its error without sending.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := c.spareP.Swap(nil)
	if p == nil {
		p = new(pingWait)
	} else {
		*p = pingWait{}
	}
	c.pmu.Lock()
	c.pseq++
	p.seq = c.pseq
	if c.ping == nil {
		c.ping = p
	} else {
		if c.pings == nil {
			c.pings = make(map[uint64]*pingWait)
		}
		c.pings[p.seq] = p
	}
	c.pmu.Unlock()
	start := time.Now()
	err := c.sendControl(0, wire.TypePing, 0, wire.AppendPing(p.buf[:0], p.seq))
	readSelf := false
	if err == nil {
		readSelf, err = c.awaitSignal(ctx, &p.done)
	}
	if err != nil {
		c.takePing(p.seq)
		return 0, err
	}
	rtt := time.Since(start)
	if readSelf {
		// As with a call's stream (recycle): only this goroutine
		// touched p after the PONG took it out of the table.
		c.spareP.Store(p)
	}
	return rtt, nil
}

// pong ends the PING a PONG answers, if it is still waited for.
func (c *Client) pong(payload []byte) error {
	v, err := wire.ParsePing(payload)
	if err != nil {
		return err
	}
	if p := c.takePing(v); p != nil {
		p.done.end()
		c.wokeReader()
	}
	return nil
}

// takePing removes the PING with sequence number seq from the table and
// returns it, or nil.
func (c *Client) takePing(seq uint64) *pingWait {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if p := c.ping; p != nil && p.seq == seq {
		c.ping = nil
		return p
	}
	p := c.pings[seq]
	if p != nil {
		delete(c.pings, seq)
	}
	return p
}

// pingsInFlight returns the number of PINGs waiting for their PONG.
func (c *Client) pingsInFlight() int {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	n := len(c.pings)
	if c.ping != nil {
		n++
	}
	return n
}
