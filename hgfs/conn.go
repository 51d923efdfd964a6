package hgfs

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"sync"
)

// Conn is the HGFS state of one peer: its sessions and open files, which
// no other Conn can reach (handles are numbered per Conn). Close
// releases them all. It is safe for concurrent use.
type Conn struct {
	s *Service

	mu         sync.Mutex
	closed     bool
	sessions   map[uint64]struct{}
	files      map[uint32]*openFile
	nextHandle uint32
}

type openFile struct {
	mu      sync.Mutex
	f       File
	u       *url.URL
	h       FileHandler
	session uint64
	pos     int64
}

// NewConn starts the state of a new peer.
func (s *Service) NewConn() *Conn {
	c := &Conn{s: s, sessions: make(map[uint64]struct{}), files: make(map[uint32]*openFile)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

// Close ends every session and closes every open file of the Conn.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	mine := c.files
	c.files = make(map[uint32]*openFile)
	c.sessions = make(map[uint64]struct{})
	c.mu.Unlock()
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	var errs []error
	for _, of := range mine {
		errs = append(errs, c.closeFile(of))
	}
	return errors.Join(errs...)
}

// Dispatch answers one request packet with one reply packet. It never
// panics: a packet it cannot parse gets a PROTOCOL_ERROR reply. The
// operation gives up when ctx ends.
func (c *Conn) Dispatch(ctx context.Context, packet []byte) (reply []byte) {
	req, err := parse(packet)
	if err != nil {
		c.s.log.Debug("hgfs: malformed packet", "bytes", len(packet), "error", err)
		return encodeReply(req, StatusProtocolError, nil)
	}
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("hgfs: operation panicked", "op", req.op, "panic", p)
			reply = encodeReply(req, StatusGenericError, nil)
		}
	}()
	err = ctx.Err() // the caller gave up: do nothing
	var body []byte
	if err == nil {
		body, err = c.handle(ctx, &req)
	}
	if err != nil {
		st := statusOf(err)
		c.s.log.Debug("hgfs: operation failed", "op", req.op, "status", st, "error", err)
		return encodeReply(req, st, nil)
	}
	return encodeReply(req, StatusSuccess, body)
}

// newSession registers a session and returns its id.
func (c *Conn) newSession() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, failf(StatusStaleSession, "connection closed")
	}
	if len(c.sessions) >= c.s.maxSessions {
		return 0, failf(StatusTooManySessions, "%d sessions open on this connection", len(c.sessions))
	}
	for {
		id := rand.Uint64()
		if _, dup := c.sessions[id]; !dup && id != 0 && id != ^uint64(0) {
			c.sessions[id] = struct{}{}
			return id, nil
		}
	}
}

// checkSession refuses version 4 packets of unknown sessions.
func (c *Conn) checkSession(req *request) error {
	if !req.v4 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sessions[req.session]; !ok {
		return failf(StatusStaleSession, "session %#x is not open", req.session)
	}
	return nil
}

// destroySession forgets a session and closes its files.
func (c *Conn) destroySession(id uint64) error {
	c.mu.Lock()
	if _, ok := c.sessions[id]; !ok {
		c.mu.Unlock()
		return failf(StatusStaleSession, "session %#x is not open", id)
	}
	delete(c.sessions, id)
	var mine []*openFile
	for h, of := range c.files {
		if of.session == id {
			mine = append(mine, of)
			delete(c.files, h)
		}
	}
	c.mu.Unlock()
	for _, of := range mine {
		_ = c.closeFile(of)
	}
	return nil
}

// addFile gives an open file a handle, within the Conn's and the
// server's limits; on failure the caller closes the file.
func (c *Conn) addFile(of *openFile) (uint32, error) {
	if err := c.s.reserveFile(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		c.s.releaseFile()
		return 0, failf(StatusStaleSession, "connection closed")
	case len(c.files) >= c.s.maxHandles:
		c.s.releaseFile()
		return 0, failf(StatusTooManySessions, "%d files open on this connection", len(c.files))
	}
	for {
		c.nextHandle++
		h := c.nextHandle
		if _, used := c.files[h]; !used && h != invalidHandle && h != 0 {
			c.files[h] = of
			return h, nil
		}
	}
}

// closeFile closes a file taken out of the table.
func (c *Conn) closeFile(of *openFile) error {
	defer c.s.releaseFile()
	of.mu.Lock()
	defer of.mu.Unlock()
	return of.f.Close()
}

// file returns the open file of handle h in the request's session.
func (c *Conn) file(req *request, h uint32) (*openFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	of, ok := c.files[h]
	if !ok || of.session != req.session {
		return nil, failf(StatusInvalidHandle, "handle %d is not open", h)
	}
	return of, nil
}

// removeFile takes handle h out of the table.
func (c *Conn) removeFile(req *request, h uint32) (*openFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	of, ok := c.files[h]
	if !ok || of.session != req.session {
		return nil, failf(StatusInvalidHandle, "handle %d is not open", h)
	}
	delete(c.files, h)
	return of, nil
}
