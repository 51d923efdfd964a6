package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// refuseEarly refuses a peer the policy turns away by its identity. At
// most MaxConns such refusals wait for the peer's HELLO at a time; past
// that the connection is closed without a word.
func (sc *serverConn) refuseEarly(ctx context.Context, refusal *Error) error {
	s := sc.srv
	s.mu.Lock()
	ok := s.nrefusing < s.opts.MaxConns
	if ok {
		s.nrefusing++
	}
	s.mu.Unlock()
	if !ok {
		_ = sc.ch.Close()
		return fmt.Errorf("rpc: refused a connection without answering (too many refusals under way): %w", refusal)
	}
	defer func() {
		s.mu.Lock()
		s.nrefusing--
		s.mu.Unlock()
	}()
	s.log.Info("rpc: refused a peer", "reason", refusal.Message)
	return sc.refuse(ctx, refusal)
}

// refuse answers a connection that will not be served with its refusal,
// a STATUS on stream 0 in place of HELLO, and closes it. It waits a
// second at most for the host's HELLO first, not the handshake's 30:
// closing a socket with the HELLO unread could reset it before the host
// has read why, but a peer that sends nothing must not linger.
func (sc *serverConn) refuse(ctx context.Context, refusal *Error) error {
	rctx, cancel := context.WithTimeout(ctx, sc.srv.refuseFor)
	defer cancel()
	if it, ok := sc.ch.(channel.Interruptible); !ok || !it.ReceiveInterruptible() {
		// ctx cannot interrupt this channel's Receive: closing it can.
		defer context.AfterFunc(rctx, func() { _ = sc.ch.Close() })()
	}
	var f wire.Frame
	_ = sc.ch.Receive(rctx, &f)
	sctx, cancelSend := context.WithTimeout(ctx, time.Second)
	defer cancelSend()
	f = wire.Frame{Type: wire.TypeStatus, Payload: wire.AppendStatus(nil, uint16(refusal.Code), refusal.Message, nil)}
	_ = sc.ch.Send(sctx, &f)
	_ = sc.ch.Close()
	return fmt.Errorf("rpc: refused a connection: %w", refusal)
}

// serverConn is one served channel.
type serverConn struct {
	*conn
	srv     *Server
	base    context.Context
	peer    Peer
	work    chan *Request
	workers sync.WaitGroup
	nstream int      // guarded by conn.smu
	spare   *Request // a finished inline call to reuse; read loop only
	session Session
	policy  *Policy
	lastID  uint32 // the last stream the host opened; read loop only

	refusedLogged bool // read loop only
}

func (sc *serverConn) handle(f *wire.Frame) error {
	switch f.Type {
	case wire.TypeOpen:
		return sc.open(f)
	case wire.TypeCancel:
		if s := sc.stream(f.StreamID); s != nil {
			s.finishRecv(ErrCanceled)
			s.owner.abort(context.Canceled)
		}
		return nil
	case wire.TypePong, wire.TypeStatus:
		return nil // the agent sends no PINGs and makes no calls
	}
	return fmt.Errorf("%w: unexpected %v", errProtocol, f.Type)
}

func (sc *serverConn) open(f *wire.Frame) error {
	id := f.StreamID
	if id%2 == 0 {
		return fmt.Errorf("%w: OPEN on stream %d (host streams are odd)", errProtocol, id)
	}
	if id <= sc.lastID {
		return fmt.Errorf("%w: OPEN of stream %d after stream %d (host stream ids must increase)", errProtocol, id, sc.lastID)
	}
	sc.lastID = id
	o, err := wire.ParseOpen(f.Payload)
	if err != nil {
		return sc.reject(id, InvalidArgument, err.Error())
	}
	r, charge, refusal := sc.admitCall(&o)
	if refusal != nil {
		return sc.reject(id, refusal.Code, refusal.Message)
	}
	c := sc.newCall()
	c.Method, c.Peer, c.sc = r.name, sc.peer, sc
	c.streamCore.c = sc.conn
	c.streamCore.id = id
	c.streamCore.owner = c
	c.sendWin = int64(sc.peerWin)
	c.recvFin = f.Flags&wire.FlagFin != 0
	if len(o.Args) <= len(c.argsBuf) {
		c.Args = append(c.argsBuf[:0], o.Args...)
	} else {
		c.Args = append([]byte(nil), o.Args...)
	}
	c.charged = charge
	c.ctx.parent, c.ctx.call = sc.base, c
	c.handler = r.wrapped
	// Set up the deadline before the call is in the table, where a
	// closing connection may cancel it (and read the timer) at once.
	if o.Timeout > 0 {
		c.ctx.deadline = time.Now().Add(o.Timeout)
		c.ctx.mu.Lock()
		c.ctx.timer = time.AfterFunc(o.Timeout, func() { c.ctx.cancel(context.DeadlineExceeded) })
		c.ctx.mu.Unlock()
	}
	sc.streams.put(id, &c.streamCore)
	sc.nstream++
	sc.smu.Unlock()
	if r.inline {
		c.noWait = true
		result, err := sc.serve(c)
		sc.finish(c, result, err)
		if o.Timeout == 0 { // else the deadline's timer may still hold c
			sc.recycle(c)
		}
		return nil
	}
	select {
	case sc.work <- c:
	default:
		sc.workers.Add(1)
		go sc.worker(c)
	}
	sc.wokeReader()
	return nil
}

// admitCall decides whether the call o may start: the policy allows its
// method, a handler is registered, and it fits the limits on streams,
// calls and memory. An admitted call returns with smu held, counted in
// the server's calls, and its arguments' charge to the budget.
func (sc *serverConn) admitCall(o *wire.Open) (r *route, charge int64, refusal *Error) {
	if ok, why := sc.policy.allowsBytes(o.Method); !ok {
		if !sc.refusedLogged {
			sc.refusedLogged = true
			sc.srv.log.Warn("rpc: refused a call by policy (logged once per connection)", "peer", sc.peer.Name, "transport", sc.peer.Transport, "reason", why)
		}
		return nil, 0, &Error{Code: PermissionDenied, Message: why}
	}
	if r = sc.srv.lookup(o.Method); r == nil {
		return nil, 0, &Error{Code: Unimplemented, Message: fmt.Sprintf("unknown method %q", o.Method)}
	}
	sc.smu.Lock()
	if n := sc.nstream; n >= sc.srv.opts.MaxStreams {
		sc.smu.Unlock()
		return nil, 0, &Error{Code: ResourceExhausted, Message: fmt.Sprintf("%d calls in flight on this connection, the limit", n)}
	}
	if code, why := sc.srv.callStarted(); code != OK {
		sc.smu.Unlock()
		return nil, 0, &Error{Code: code, Message: why}
	}
	if len(o.Args) > len(Request{}.argsBuf) {
		if charge = int64(len(o.Args)); !sc.srv.budget.take(charge) {
			sc.smu.Unlock()
			sc.srv.callDone()
			return nil, 0, &Error{Code: ResourceExhausted, Message: fmt.Sprintf("%s: %d bytes of arguments would exceed the agent's memory budget of %d bytes", o.Method, len(o.Args), sc.srv.opts.MemoryBudget)}
		}
	}
	return r, charge, nil
}

// newCall returns a zeroed Call, the one an inline call left behind if
// there is one. Only the read loop calls it.
func (sc *serverConn) newCall() *Request {
	c := sc.spare
	if c == nil {
		return new(Request)
	}
	sc.spare = nil
	*c = Request{}
	return c
}

// recycle keeps c, an inline call the read loop has finished, for the
// next call: reusing memory that is already in the cache is worth a tenth
// of a small call's latency. An inline call is out of the stream table
// and nothing else holds it, unless the connection is closing, whose
// close may still be ending it.
func (sc *serverConn) recycle(c *Request) {
	select {
	case <-sc.closed:
	default:
		sc.spare = c
	}
}

// ErrIdle is the error of a connection the server closed because it
// sat idle for ServerOptions.IdleTimeout.
var ErrIdle = errors.New("rpc: connection idle")

// watchIdle closes the connection once it has had no call in flight and
// completed no frame for d (d < 0: never; virtio-console and TCLO sessions are
// exempt, see ServerOptions.IdleTimeout). It counts frames rather than
// timing them so the read loop pays an atomic add, not a clock read; an
// idle connection is therefore closed between d and 2d after its last
// frame. A connection whose peer reads nothing is closed too, calls in
// flight or not: a write blocked through two checks with no write
// finishing meanwhile (between d and 3d), since such a peer could
// otherwise hold its connection, and the handler or read loop blocked
// in that write, for ever. It returns a func that stops watching.
func (sc *serverConn) watchIdle(d time.Duration) (stop func()) {
	if d <= 0 || sc.peer.Transport == channel.TransportVirtio || sc.peer.Transport == channel.TransportVMware {
		return func() {}
	}
	var mu sync.Mutex
	var t *time.Timer
	seen, seenWritten := uint64(0), uint64(0)
	suspect := false // a write was blocked at the last check with none finished since the one before
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		n, w := sc.frames.Load(), sc.written.Load()
		stuck := sc.writing.Load() > 0 && w == seenWritten
		stalled := stuck && suspect
		suspect, seenWritten = stuck, w
		sc.smu.Lock()
		busy := sc.nstream > 0
		sc.smu.Unlock()
		switch {
		case stalled:
			sc.srv.log.Info("rpc: closing a connection whose peer reads nothing", "peer", sc.peer.Name, "transport", sc.peer.Transport, "for", d)
			sc.close(fmt.Errorf("%w: the peer read nothing the agent sent for %v", ErrIdle, d))
		case n != seen || busy || stuck:
			seen = n
			t.Reset(d)
		default:
			sc.srv.log.Info("rpc: closing an idle connection", "peer", sc.peer.Name, "transport", sc.peer.Transport, "idle", d)
			sc.close(fmt.Errorf("%w: no call and no frame for %v", ErrIdle, d))
		}
	}
	mu.Lock()
	t = time.AfterFunc(d, check)
	mu.Unlock()
	return func() { t.Stop() }
}

// reject answers an OPEN that will not run with a STATUS.
func (sc *serverConn) reject(id uint32, code Code, msg string) error {
	return sc.queue(ctrlFrame{id: id, typ: wire.TypeStatus, payload: wire.AppendStatus(nil, uint16(code), msg, nil)})
}

// worker runs calls; it stays for the next call until the connection
// ends, so steady traffic starts no goroutines.
func (sc *serverConn) worker(c *Request) {
	defer sc.workers.Done()
	for {
		result, err := sc.serve(c)
		sc.finish(c, result, err)
		select {
		case c = <-sc.work:
		case <-sc.closed:
			return
		}
	}
}

func (sc *serverConn) serve(c *Request) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			sc.srv.log.Error("rpc: handler panicked", "method", c.Method, "panic", p, "stack", string(debug.Stack()))
			result, err = nil, Errorf(Internal, "handler for %q panicked: %v", c.Method, p)
		}
	}()
	return c.handler.ServeRPC(&c.ctx, c)
}

// finish sends the call's STATUS and retires it.
func (sc *serverConn) finish(c *Request, result any, err error) {
	var payload []byte
	if err == nil {
		b, merr := marshalResult(result)
		if merr != nil {
			err = Errorf(Internal, "%s: encoding result: %v", c.Method, merr)
		}
		payload = wire.AppendStatus(c.scratch[:0], uint16(OK), "", b)
	}
	if err != nil {
		code := CodeOf(err)
		if code == OK {
			code = Unknown
		}
		payload = wire.AppendStatus(c.scratch[:0], uint16(code), statusMessage(err), nil)
	}
	if uint32(len(payload)) > sc.peerMax {
		payload = wire.AppendStatus(c.scratch[:0], uint16(ResourceExhausted),
			fmt.Sprintf("%s: result of %d bytes exceeds the peer's frame limit of %d", c.Method, len(payload), sc.peerMax), nil)
	}
	c.mu.Lock()
	c.sendFin = true
	silent := c.silent
	c.mu.Unlock()
	if !silent {
		c.frame = wire.Frame{StreamID: c.id, Type: wire.TypeStatus, Payload: payload}
		_ = sc.send(&c.frame)
	}
	sc.smu.Lock()
	sc.streams.take(c.id)
	sc.nstream--
	sc.smu.Unlock()
	c.finishRecv(errWriteClosed)
	c.release()
	sc.srv.budget.give(c.charged)
	c.charged = 0
	c.ctx.cancel(context.Canceled)
	sc.srv.callDone()
}

// statusMessage is the STATUS message for err. An *Error carries its
// message bare: its Error() adds the "rpc: Code: " prefix, which the
// client's *Error adds again.
func statusMessage(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	if err == error(e) {
		return e.Message
	}
	// A wrapped status: keep the wrapping context, but not the inner
	// "rpc: CODE: " prefix, which the client adds back.
	return strings.Replace(err.Error(), e.Error(), e.Message, 1)
}

func marshalResult(v any) ([]byte, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return r, nil
	case []byte:
		return r, nil
	}
	return json.Marshal(v)
}

// close also cancels every running call, so handlers return and
// ServeChannel can.
func (sc *serverConn) close(err error) { sc.conn.close(err) }
