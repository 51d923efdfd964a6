package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
	refuseFor time.Duration // how long a refusal waits for the peer's HELLO (see refuse)
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
		refuseFor: time.Second,
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
