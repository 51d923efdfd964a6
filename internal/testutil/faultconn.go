package testutil

import (
	"errors"
	"net"
	"sync"
)

// ErrFault is returned by a FaultConn's writes once it has failed.
var ErrFault = errors.New("testutil: injected connection fault")

// FaultConn wraps a net.Conn and cuts it after a number of written
// bytes: the write that reaches the limit sends only the bytes up to it,
// then the connection is closed and the write fails with ErrFault. It
// also records where each write ended, so a test can cut at every frame
// boundary of an earlier run (the wire encoder writes one frame per
// Write).
type FaultConn struct {
	net.Conn

	mu      sync.Mutex
	limit   int64 // < 0: never fail
	written int64
	ends    []int64
	failed  bool
}

// NewFaultConn returns c failing after limit written bytes; a negative
// limit never fails (use it to record frame boundaries).
func NewFaultConn(c net.Conn, limit int64) *FaultConn {
	return &FaultConn{Conn: c, limit: limit}
}

// Write writes p, or the part of it below the limit and then fails.
func (c *FaultConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed {
		return 0, ErrFault
	}
	if c.limit >= 0 && c.written+int64(len(p)) >= c.limit {
		keep := c.limit - c.written
		n, _ := c.Conn.Write(p[:keep])
		c.written += int64(n)
		c.failed = true
		_ = c.Conn.Close()
		return n, ErrFault
	}
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	c.ends = append(c.ends, c.written)
	return n, err
}

// Written is the number of bytes written so far.
func (c *FaultConn) Written() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// WriteEnds returns the offsets at which each successful write ended.
func (c *FaultConn) WriteEnds() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.ends...)
}

// Failed reports whether the fault has fired.
func (c *FaultConn) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}
