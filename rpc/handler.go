package rpc

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// Handler serves one method. ServeRPC runs in its own goroutine; ctx is
// canceled when the client cancels, the call's deadline passes, the
// connection ends or the server shuts down. The returned result is
// marshaled to JSON (json.RawMessage and []byte are sent as they are;
// nil sends no result); a returned error becomes the call's status (see
// CodeOf).
type Handler interface {
	ServeRPC(ctx context.Context, req *Request) (result any, err error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (any, error)

// ServeRPC calls f(ctx, req).
func (f HandlerFunc) ServeRPC(ctx context.Context, req *Request) (any, error) { return f(ctx, req) }

// Inline marks h as quick and non-blocking, so that the server runs it
// on the connection's read loop instead of handing the call to a worker
// goroutine: a call then costs two goroutine switches less, which is a
// large part of a small call's latency. While h runs no other frame of
// the connection is read, so h must return promptly and must not wait
// for the peer: a Read that would wait for DATA, or a Write that would
// wait for the peer to open its flow-control window, fails with
// FailedPrecondition instead. (A Write still waits while the transport
// takes the frame, as every write does.) The server may reuse an inline
// call's Request and context for a later call on the connection, so neither
// may be kept, by h or its middleware, once h has returned. The mark is
// seen only on the Handler given to RegisterHandler itself: wrapping the
// result of Inline in another Handler hides it (middleware added with Use
// does not). The built-in sys.ping is inline; handlers that
// run commands or touch files are not.
func Inline(h Handler) Handler { return inlineHandler{h} }

type inlineHandler struct{ Handler }

// Middleware wraps a Handler, e.g. for authentication or logging.
type Middleware func(Handler) Handler

// Unary returns a Handler for the common JSON-in, JSON-out method. Empty
// args decode as Req's zero value; malformed args fail with
// InvalidArgument before fn runs.
func Unary[Req, Resp any](fn func(ctx context.Context, req Req) (Resp, error)) Handler {
	return HandlerFunc(func(ctx context.Context, call *Request) (any, error) {
		var req Req
		if err := call.DecodeArgs(&req); err != nil {
			return nil, err
		}
		return fn(ctx, req)
	})
}

// Peer describes the other end of a connection: what its transport
// knows (channel.PeerInfo: transport, unix credentials, vsock CID) and
// what it announced.
type Peer struct {
	channel.PeerInfo
	Addr net.Addr // transport address; nil when the transport has none
	Name string   // the name the peer announced in HELLO
}

// Request is one incoming call, as a handler sees it: the method, its
// arguments, the caller (Peer), and for streaming methods the DATA lanes
// in both directions: Read and LaneReader take what the client sends,
// Write and LaneWriter send to it. (Client.Call is the other side: the
// method that makes a call.)
type Request struct {
	Method string
	Args   []byte // JSON; valid until the handler returns
	Peer   Peer

	streamCore
	ctx     callCtx
	sc      *serverConn
	handler Handler
	silent  bool  // the client abandoned the call: send no STATUS (guarded by mu)
	charged int64 // bytes of Args charged to the server's memory budget

	frame   wire.Frame
	scratch [64]byte
	argsBuf [96]byte
}

// DecodeArgs unmarshals the JSON arguments into v. Empty arguments leave
// v unchanged.
func (c *Request) DecodeArgs(v any) error {
	if len(c.Args) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Args, v); err != nil {
		return Errorf(InvalidArgument, "%s: arguments: %v", c.Method, err)
	}
	return nil
}

// Read reads request DATA from lane 0. It returns io.EOF once the client
// half-closed and everything sent was read.
func (c *Request) Read(p []byte) (int, error) { return c.read(&c.ctx, 0, p) }

// Write sends response DATA on lane 0. It blocks while the client's
// window is full, so a slow reader slows the handler instead of growing
// memory.
func (c *Request) Write(p []byte) (int, error) { return c.write(&c.ctx, 0, p, errWriteClosed) }

// WriteTo writes the request's DATA (lane 0) to w until the client
// half-closes, without copying it through an intermediate buffer; io.Copy
// uses it.
func (c *Request) WriteTo(w io.Writer) (int64, error) { return c.writeTo(&c.ctx, 0, w) }

// LaneReader returns a reader of request DATA on lane l.
func (c *Request) LaneReader(l Lane) io.Reader { return laneReader{&c.ctx, &c.streamCore, l} }

// LaneWriter returns a writer of response DATA on lane l.
func (c *Request) LaneWriter(l Lane) io.Writer {
	return laneWriter{&c.ctx, &c.streamCore, l, errWriteClosed}
}

// Allowed reports whether the policy this call's connection is served
// under lets the peer call method: what a handler that lists or forwards
// to other methods (sys.info, a VIX or compat bridge) checks first.
func (c *Request) Allowed(method string) bool {
	ok, _ := c.sc.policy.allows(method)
	return ok
}

// CloseWrite tells the client no more response DATA follows. The final
// STATUS implies it; use it to signal EOF early.
func (c *Request) CloseWrite() error { return c.closeWrite() }

// abort cancels the handler's context when the connection gives up on it.
// The context reports context.Canceled, as the context.Context contract
// requires; why the stream ended (connection lost, flow-control
// violation) is what the call's Read and Write return.
func (c *Request) abort(error) {
	c.mu.Lock()
	c.silent = true
	c.mu.Unlock()
	c.ctx.cancel(context.Canceled)
}

// callCtx is the handler's context. It lives inside Call so that a
// dispatch costs no allocations for it; Done's channel is made only when
// asked for.
type callCtx struct {
	parent   context.Context
	call     *Request
	mu       sync.Mutex
	done     chan struct{}
	err      error
	deadline time.Time
	timer    *time.Timer
}

func (x *callCtx) Deadline() (time.Time, bool) { return x.deadline, !x.deadline.IsZero() }

func (x *callCtx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.err != nil {
			close(x.done)
		}
	}
	return x.done
}

func (x *callCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *callCtx) Value(key any) any {
	return x.parent.Value(key)
}

func (x *callCtx) cancel(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
		if x.done != nil {
			close(x.done)
		}
		if x.timer != nil {
			x.timer.Stop()
		}
	}
	x.mu.Unlock()
	x.call.notifyAll()
}

func (c *Request) notifyAll() {
	c.mu.Lock()
	c.notifyLocked()
	c.mu.Unlock()
}
