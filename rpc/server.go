package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// ErrServerClosed is returned by Serve and ServeChannel after Shutdown.
var ErrServerClosed = errors.New("rpc: server closed")

// ServerOptions configure a Server. The zero value is ready to use.
type ServerOptions struct {
	// Logger receives connection errors and handler panics; nil is silent.
	Logger *slog.Logger
	// Name is announced in HELLO (default "guestrpc-agent").
	Name string
	// Window is the per-stream receive window (default: what the channel
	// asks for, channel.VirtioWindow on a virtio-console port, else
	// DefaultWindow).
	Window uint32
	// MaxStreams caps concurrent calls per connection (default
	// DefaultMaxStreams); calls past it fail with ResourceExhausted.
	MaxStreams int
	// Policy decides who may connect and which methods they may call;
	// the zero Policy admits only local root (see Policy). WithPolicy
	// sets another for one listener.
	Policy Policy
	// MaxConns caps connections across all listeners, those still in
	// their handshake included (default DefaultMaxConns); one past it is
	// refused with ResourceExhausted.
	MaxConns int
	// MaxCalls caps calls in flight across all connections (default
	// DefaultMaxCalls); each may hold a goroutine, a file or a process.
	MaxCalls int
	// MemoryBudget caps the bytes that peers together can make the
	// server hold: call arguments and received DATA not yet read
	// (default DefaultMemoryBudget). A call that would exceed it fails
	// with ResourceExhausted.
	MemoryBudget int64
	// IdleTimeout closes a connection that has no call in flight and has
	// completed no frame for this long after HELLO (default
	// DefaultIdleTimeout; negative: never). virtio-console and VMware TCLO sessions are
	// exempt: the port belongs to the hypervisor and a host legitimately
	// stays connected for the life of the VM.
	IdleTimeout time.Duration
}

// Defaults of ServerOptions.
const (
	DefaultMaxConns     = 16
	DefaultMaxCalls     = 256
	DefaultMemoryBudget = 64 << 20
	DefaultIdleTimeout  = 10 * time.Minute
)

// Server dispatches calls arriving on channels to registered handlers.
// It is safe for concurrent use; handlers may be registered at any time.
type Server struct {
	opts ServerOptions
	log  *slog.Logger

	hmu      sync.RWMutex
	handlers map[string]*route
	mws      []Middleware

	mu        sync.Mutex
	listeners map[channel.Listener]struct{}
	conns     map[*serverConn]struct{}
	active    int           // calls in flight, all connections
	nconns    int           // connections, handshaking ones included
	nrefusing int           // connections being refused by who they are (see refuseEarly)
	budget    budget        // bytes peers make the server hold
	idle      chan struct{} // closed when active drops to 0 during Shutdown
	closing   bool
}

type route struct {
	name    string
	base    Handler
	wrapped Handler
	inline  bool // run on the read loop (see Inline)
}

// NewServer returns a Server with the built-in method sys.ping
// registered.
func NewServer(opts ServerOptions) *Server {
	if opts.Name == "" {
		opts.Name = "guestrpc-agent"
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = DefaultMaxCalls
	}
	if opts.MemoryBudget <= 0 {
		opts.MemoryBudget = DefaultMemoryBudget
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		handlers:  make(map[string]*route),
		listeners: make(map[channel.Listener]struct{}),
		conns:     make(map[*serverConn]struct{}),
		budget:    budget{limit: opts.MemoryBudget},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// sys.ping is the protocol's health check, answered by every server.
	s.RegisterHandler("sys.ping", Inline(HandlerFunc(func(context.Context, *Request) (any, error) { return nil, nil })))
	return s
}

// RegisterHandler routes method to h, replacing an earlier handler. It
// panics on an empty name or nil handler, as http.ServeMux does for
// programming errors.
func (s *Server) RegisterHandler(method string, h Handler) {
	if method == "" || len(method) > 256 || h == nil {
		panic(fmt.Sprintf("rpc: RegisterHandler(%q): empty or over-long method name, or nil handler", method))
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	_, inline := h.(inlineHandler)
	r := &route{name: method, base: h, inline: inline}
	r.wrapped = s.wrapLocked(h)
	s.handlers[method] = r
}

// HandleFunc routes method to f.
func (s *Server) HandleFunc(method string, f func(ctx context.Context, req *Request) (any, error)) {
	s.RegisterHandler(method, HandlerFunc(f))
}

// Use appends middleware; it applies to every handler, registered before
// or after. The first middleware is the outermost.
func (s *Server) Use(mw ...Middleware) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.mws = append(s.mws, mw...)
	for _, r := range s.handlers {
		r.wrapped = s.wrapLocked(r.base)
	}
}

func (s *Server) wrapLocked(h Handler) Handler {
	for i := len(s.mws) - 1; i >= 0; i-- {
		h = s.mws[i](h)
	}
	return h
}

// Methods returns the registered method names, sorted.
func (s *Server) Methods() []string {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	names := make([]string, 0, len(s.handlers))
	for n := range s.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Server) lookup(method []byte) *route {
	s.hmu.RLock()
	r := s.handlers[string(method)]
	s.hmu.RUnlock()
	return r
}

// Serve accepts sessions from l and serves each until Shutdown, or until
// ctx is canceled, which stops at once: in-flight calls are canceled and
// connections closed. Serve closes l before it returns.
func (s *Server) Serve(ctx context.Context, l channel.Listener) error {
	policy := &s.opts.Policy
	if pl, ok := l.(*policyListener); ok {
		policy = &pl.policy
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		_ = l.Close()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		ch, err := l.Accept(ctx)
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, channel.ErrClosed) {
				return err
			}
			// Transient (out of file descriptors, a device hiccup): retry
			// with backoff rather than give up the listener.
			s.log.Warn("rpc: accept failed; retrying", "addr", l.Addr(), "error", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveChannel(ctx, ch, policy); err != nil && !errors.Is(err, ErrServerClosed) && ctx.Err() == nil {
				s.log.Info("rpc: session ended", "addr", l.Addr(), "error", err)
			}
		}()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// ServeChannel serves one channel until the peer goes away (returning
// nil), the channel fails, Shutdown ends it, or ctx is canceled. It
// returns after every handler of the channel has returned. The peer is
// admitted under ServerOptions.Policy.
func (s *Server) ServeChannel(ctx context.Context, ch channel.Channel) error {
	return s.serveChannel(ctx, ch, &s.opts.Policy)
}

// windowHinter is a channel whose link wants a per-stream receive
// window other than DefaultWindow (a virtio-console port, whose round
// trips under emulation take milliseconds).
type windowHinter interface{ RecvWindow() uint32 }

// window is the receive window the server grants on ch: ServerOptions.Window
// when set, else the channel's hint, else DefaultWindow.
func (s *Server) window(ch channel.Channel) uint32 {
	if s.opts.Window != 0 {
		return s.opts.Window
	}
	if h, ok := ch.(windowHinter); ok {
		return h.RecvWindow()
	}
	return DefaultWindow
}

func (s *Server) serveChannel(ctx context.Context, ch channel.Channel, policy *Policy) error {
	sc := &serverConn{srv: s, base: ctx, work: make(chan *Request), policy: policy}
	sc.conn = newConn(ch, s.log, s.window(ch))
	sc.budget = &s.budget
	info := channel.PeerOf(ch)
	if len(policy.Token) == 0 && !policy.Insecure {
		// Who the peer is is known before its HELLO: one the policy
		// refuses takes no connection slot, so it cannot keep admitted
		// peers out by holding slots in their handshake.
		if refusal := policy.admit(info, nil); refusal != nil {
			return sc.refuseEarly(ctx, refusal)
		}
	}
	defer s.connDone()
	if !s.connStarted() {
		// Refuse at once, without waiting for a HELLO that a peer
		// opening connections by the thousand may never send.
		return sc.refuse(ctx, &Error{Code: ResourceExhausted, Message: fmt.Sprintf("the agent serves %d connections, its limit", s.opts.MaxConns)})
	}
	admit := func(h wire.Hello) *Error {
		if policy.Insecure {
			s.log.Warn("rpc: admitting a peer without checks (insecure policy)", "transport", info.Transport, "addr", ch.RemoteAddr(), "name", h.Name)
		}
		return policy.admit(info, h.Token)
	}
	if err := sc.handshake(ctx, wire.Hello{Name: s.opts.Name}, admit); err != nil {
		_ = ch.Close()
		return err
	}
	sc.peer = Peer{PeerInfo: info, Addr: ch.RemoteAddr(), Name: sc.peerName}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ch.Close()
		return ErrServerClosed
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { sc.close(nil) })
	stopIdle := sc.watchIdle(s.opts.IdleTimeout)
	sc.readLoop(sc.handle) // on this goroutine: a connection costs one
	<-sc.closed
	stop()
	stopIdle()
	sc.conn.wg.Wait()
	sc.workers.Wait()
	if err := sc.session.close(); err != nil {
		s.log.Warn("rpc: releasing session state", "peer", sc.peer.Name, "error", err)
	}

	s.mu.Lock()
	delete(s.conns, sc)
	closing := s.closing
	s.mu.Unlock()
	switch {
	case closing:
		return ErrServerClosed
	case ctx.Err() != nil:
		return ctx.Err()
	}
	sc.errMu.Lock()
	defer sc.errMu.Unlock()
	return sc.err
}

// Shutdown stops accepting sessions and new calls, waits for in-flight
// calls to finish, then closes every connection. If ctx ends first, the
// remaining calls are canceled and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		_ = l.Close()
	}
	var idle chan struct{}
	if s.active > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()

	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(nil)
	}
	return err
}

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
	rctx, cancel := context.WithTimeout(ctx, time.Second)
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

// connStarted counts a new connection; false when it is one too many.
func (s *Server) connStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nconns++
	return s.nconns <= s.opts.MaxConns
}

func (s *Server) connDone() {
	s.mu.Lock()
	s.nconns--
	s.mu.Unlock()
}

// callStarted counts a new call, or says why it may not start.
func (s *Server) callStarted() (Code, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return Unavailable, "server is shutting down"
	}
	if s.active >= s.opts.MaxCalls {
		return ResourceExhausted, fmt.Sprintf("%d calls in flight on the agent, its limit", s.active)
	}
	s.active++
	return OK, ""
}

func (s *Server) callDone() {
	s.mu.Lock()
	s.active--
	if s.active == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
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
	sc.streams[id] = &c.streamCore
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
	delete(sc.streams, c.id)
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
