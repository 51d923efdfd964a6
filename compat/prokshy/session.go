package prokshy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
)

// helloLen is what identifies a native HELLO: a 10-byte frame header on
// stream 0 of type HELLO, then the magic "GSRP".
const helloLen = 14

func isHello(b []byte) bool {
	return len(b) >= helloLen && b[0] == 0 && bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) && b[8] == 1 &&
		string(b[10:14]) == "GSRP"
}

// session is the loop's state on one port.
type session struct {
	srv  *Server
	port io.ReadWriter
	peer channel.PeerInfo
	r    *lineReader
}

// next serves one command (or one native session).
func (ss *session) next(ctx context.Context) error {
	native, err := ss.native(ctx)
	if err != nil {
		return err
	}
	if native {
		return ss.serveNative(ctx)
	}
	line, err := ss.r.line(ctx, nil)
	if err != nil {
		return err
	}
	name := string(trimIFS(line))
	if !ValidName(name) {
		ss.srv.log.Debug("prokshy: invalid command name ignored", "line", string(line[:min(len(line), 256)]))
		return nil
	}
	spec, ok := ss.srv.lookup(name)
	if !ok {
		ss.srv.log.Debug("prokshy: no such command", "command", name)
		return nil
	}
	t := time.NewTimer(ss.srv.opts.ArgTimeout)
	defer t.Stop()
	arg, err := ss.r.line(ctx, t.C)
	switch {
	case errors.Is(err, errTimeout):
		ss.r.skipLine()
		arg = nil
	case err != nil:
		return err
	}
	ss.srv.run(ctx, ss.peer, spec, name, trimIFS(arg), ss.port)
	return nil
}

// trimIFS strips what read(1) strips with the default IFS.
func trimIFS(b []byte) []byte { return bytes.Trim(b, " \t\n") }

// native reports whether the next bytes are a native HELLO. Only a
// NUL can start one, and no command name holds a NUL.
func (ss *session) native(ctx context.Context) (bool, error) {
	for len(ss.r.buf) == 0 {
		if err := ss.r.more(ctx, nil); err != nil {
			return false, err
		}
	}
	if ss.r.buf[0] != 0 || ss.r.discarding {
		return false, nil
	}
	for len(ss.r.buf) < helloLen {
		if err := ss.r.more(ctx, nil); err != nil {
			return false, err
		}
	}
	return isHello(ss.r.buf), nil
}

// serveNative serves one native session on the port, from its HELLO
// until the host goes (EOF) or the session fails; then the loop reads
// lines again.
func (ss *session) serveNative(ctx context.Context) error {
	nc := &nativeConn{r: ss.r, w: ss.port, closed: make(chan struct{})}
	err := ss.srv.opts.Server.ServeChannel(ctx, channel.NewStreamPeer(nc, channel.StreamOptions{}, ss.peer))
	ss.srv.log.Info("prokshy: native session ended", "err", err)
	return ctx.Err()
}

// nativeConn is the port as a native session sees it: the bytes already
// read, then the pump's.
type nativeConn struct {
	r      *lineReader
	w      io.Writer
	once   sync.Once
	closed chan struct{}
}

func (c *nativeConn) Read(p []byte) (int, error) {
	for len(c.r.buf) == 0 {
		select {
		case ch, ok := <-c.r.p.ch:
			if !ok {
				return 0, io.EOF
			}
			if errors.Is(ch.err, io.EOF) && c.r.p.reconnect && c.staleHangup() {
				continue
			}
			if ch.err != nil {
				return 0, ch.err
			}
			c.r.buf = append(c.r.buf, ch.b...)
		case <-c.closed:
			return 0, io.EOF
		}
	}
	n := copy(p, c.r.buf)
	c.r.buf = append(c.r.buf[:0], c.r.buf[n:]...)
	return n, nil
}

// hangupGrace is how long an EOF on a virtio port must be confirmed by
// another before it ends the session (the native virtio listener waits
// as long).
const hangupGrace = 250 * time.Millisecond

// staleHangup reports whether an EOF the port just read belongs to an
// earlier host: a virtio port can deliver the previous host's hang-up
// after the next host connected. With no host, the pump reads EOF again
// within its first backoff (10 ms); with a host, its read waits for
// data. So an EOF with no second one within hangupGrace is stale. Data
// that arrives meanwhile is kept.
func (c *nativeConn) staleHangup() bool {
	t := time.NewTimer(hangupGrace)
	defer t.Stop()
	select {
	case ch, ok := <-c.r.p.ch:
		if !ok || ch.err != nil {
			return false
		}
		c.r.buf = append(c.r.buf, ch.b...)
		return true
	case <-t.C:
		return true
	case <-c.closed:
		return false
	}
}

func (c *nativeConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *nativeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
