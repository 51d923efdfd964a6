package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// ClientOptions configure a Client. The zero value is ready to use.
type ClientOptions struct {
	Logger *slog.Logger
	// Name is announced in HELLO (default "guestrpc-client").
	Name string
	// Window is the per-stream receive window (default
	// DefaultClientWindow, 4 MiB): what a stream may hold of the host's
	// memory while its reader lags. A host serving many agents at once
	// may want less, at some cost in download speed.
	Window uint32
	// Token is presented to the agent in HELLO, for agents that require
	// one (TCP listeners; see Policy.Token). At most wire.MaxTokenLen
	// bytes.
	Token []byte
}

// Client calls methods on an agent over one channel. It is safe for
// concurrent use; calls are multiplexed as streams.
type Client struct {
	*conn
	omu    sync.Mutex // held from choosing a stream id until its OPEN is sent
	nextID uint64     // guarded by conn.smu; uint64 so the last id cannot wrap
	reader clientReader
	spare  atomic.Pointer[Stream] // a Stream to reuse (see recycle)

	// PINGs in flight: the first in ping, any others in pings.
	pmu    sync.Mutex
	pseq   uint64
	ping   *pingWait
	pings  map[uint64]*pingWait
	spareP atomic.Pointer[pingWait] // a pingWait to reuse
}

// maxStreamID is the last odd stream id; ids are never reused on a
// connection.
const maxStreamID = 1<<32 - 1

// NewClient performs the HELLO exchange on ch and returns a Client that
// owns ch. ctx bounds the handshake only.
func NewClient(ctx context.Context, ch channel.Channel, opts ClientOptions) (*Client, error) {
	if opts.Name == "" {
		opts.Name = "guestrpc-client"
	}
	if opts.Window == 0 {
		opts.Window = DefaultClientWindow
	}
	c := &Client{conn: newConn(ch, opts.Logger, opts.Window), nextID: 1}
	if len(opts.Token) > wire.MaxTokenLen {
		_ = ch.Close()
		return nil, fmt.Errorf("rpc: token of %d bytes, the limit is %d", len(opts.Token), wire.MaxTokenLen)
	}
	if err := c.handshake(ctx, wire.Hello{Name: opts.Name, Token: opts.Token}, nil); err != nil {
		_ = ch.Close()
		return nil, err
	}
	c.startReading()
	return c, nil
}

// PeerName is the name the agent announced in HELLO.
func (c *Client) PeerName() string { return c.peerName }

// Close closes the connection; calls in flight fail with Unavailable.
func (c *Client) Close() error {
	c.close(nil)
	c.wg.Wait()
	return nil
}

// Done is closed when the connection has ended. An idle client notices
// the agent going away within a few milliseconds.
func (c *Client) Done() <-chan struct{} { return c.closed }

// Err returns why the connection ended (Unavailable), or nil while open.
func (c *Client) Err() error {
	select {
	case <-c.closed:
		return c.connErr()
	default:
		return nil
	}
}

func (c *Client) handle(f *wire.Frame) error {
	switch f.Type {
	case wire.TypeStatus:
		st, err := wire.ParseStatus(f.Payload)
		if err != nil {
			return err
		}
		if s := c.takeStream(f.StreamID); s != nil {
			s.owner.(*Stream).finish(&st)
		}
		return nil
	case wire.TypeCancel:
		if s := c.takeStream(f.StreamID); s != nil {
			s.owner.abort(&Error{Code: Aborted, Message: "the agent reset the stream"})
		}
		return nil
	case wire.TypePong:
		return c.pong(f.Payload)
	case wire.TypeOpen:
		// Agent-initiated calls are reserved for a later protocol version.
		return c.queue(ctrlFrame{id: f.StreamID, typ: wire.TypeStatus,
			payload: wire.AppendStatus(nil, uint16(Unimplemented), "this client serves no methods", nil)})
	}
	return fmt.Errorf("%w: unexpected %v", errProtocol, f.Type)
}

// Call invokes method with args (marshaled to JSON; nil sends none) and
// unmarshals the result into result (unless nil); a *json.RawMessage
// receives the result's JSON as the agent sent it, unchecked. A failed call returns
// an *Error; a canceled ctx returns ctx.Err() and cancels the call on the
// agent, as does the ctx deadline, which is also sent to the agent.
func (c *Client) Call(ctx context.Context, method string, args, result any) error {
	s, err := c.open(ctx, method, args, true)
	if err != nil {
		return err
	}
	readSelf, err := c.awaitSignal(ctx, &s.done)
	switch {
	case err == nil && readSelf:
		// Only a caller that read its own reply may reuse s: another
		// reader still touches s after ending it.
		err := s.result(result)
		c.recycle(s)
		return err
	case err != nil && err == ctx.Err():
		s.cancel(err)
		return err
	}
	<-s.done.wait() // s ended, or the connection did and ends s with it
	return s.result(result)
}

// Open starts a streaming call. ctx bounds the opening only: if it has
// ended, Open returns its error and sends nothing; once Open has
// returned, ending ctx does not affect the stream, as with
// net.Dialer.DialContext. The stream lives until its STATUS arrives or
// Close (or CloseWithError) abandons it; an operation that owns a stream
// from Open to Wait ties the two with
//
//	stop := context.AfterFunc(ctx, func() { s.CloseWithError(ctx.Err()) })
//	defer stop()
//
// No timeout travels with the call (Call sends ctx's deadline; a stream
// may outlive the ctx that opened it).
func (c *Client) Open(ctx context.Context, method string, args any) (*Stream, error) {
	s, err := c.open(ctx, method, args, false)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (c *Client) open(ctx context.Context, method string, args any, unary bool) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	argb, err := marshalArgs(args)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: encoding arguments: %w", method, err)
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok && unary {
		if timeout = time.Until(d); timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	s := c.spare.Swap(nil)
	if s == nil {
		s = new(Stream)
	} else {
		*s = Stream{}
	}
	s.c, s.owner, s.recvFin = c.conn, s, false
	s.sendFin = unary
	s.sendWin = int64(c.peerWin)
	s.frame.Payload = wire.AppendOpen(s.scratch[:0], timeout, method, argb)
	if uint32(len(s.frame.Payload)) > c.peerMax {
		return nil, Errorf(ResourceExhausted, "%s: arguments of %d bytes exceed the agent's frame limit of %d", method, len(argb), c.peerMax)
	}
	// OPENs go out in the order of their ids, which the agent requires.
	c.omu.Lock()
	defer c.omu.Unlock()
	c.smu.Lock()
	select {
	case <-c.closed:
		c.smu.Unlock()
		return nil, c.connErr()
	default:
	}
	if c.nextID > maxStreamID {
		c.smu.Unlock()
		return nil, Errorf(ResourceExhausted, "%s: this connection has used all its stream ids; open a new one", method)
	}
	s.id = uint32(c.nextID)
	c.nextID += 2
	c.streams.put(s.id, &s.streamCore)
	c.smu.Unlock()
	s.frame.StreamID, s.frame.Type = s.id, wire.TypeOpen
	if unary {
		s.frame.Flags = wire.FlagFin
	}
	if err := c.send(&s.frame); err != nil {
		c.removeStream(s.id)
		return nil, err
	}
	return s, nil
}

// recycle keeps s, a unary call's stream whose reply the calling
// goroutine read itself, for a later call: reusing memory that is
// already in the cache is worth a tenth of a small call's latency. Only
// the reading goroutine touched s after its STATUS was taken out of the
// stream table, unless the connection is closing, whose close may still
// be ending it. Streams that ended any other way are left to the garbage
// collector.
func (c *Client) recycle(s *Stream) {
	select {
	case <-c.closed:
	default:
		c.spare.Store(s)
	}
}

func marshalArgs(v any) ([]byte, error) {
	switch a := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return a, nil
	case []byte:
		return a, nil
	}
	return json.Marshal(v)
}

// Stream is a client-side streaming call. Read and Write carry lane 0;
// LaneReader and LaneWriter the others. Wait returns the final status.
type Stream struct {
	streamCore

	once   sync.Once
	done   doneSignal
	err    error  // final error; nil when the call succeeded
	status []byte // result JSON

	frame   wire.Frame
	scratch [128]byte
}

// Read reads response DATA from lane 0; io.EOF after the agent's last byte.
func (s *Stream) Read(p []byte) (int, error) { return s.read(context.Background(), 0, p) }

// WriteTo writes the response DATA (lane 0) to w until the agent
// half-closes, without copying it through an intermediate buffer; io.Copy
// uses it.
func (s *Stream) WriteTo(w io.Writer) (int64, error) { return s.writeTo(context.Background(), 0, w) }

// Write sends request DATA on lane 0, blocking while the agent's window
// is full.
func (s *Stream) Write(p []byte) (int, error) {
	return s.write(context.Background(), 0, p, s.writeClosedErr())
}

// ReadAny reads response DATA from whichever lane has some, taking the
// lanes in turn, and says which lane it came from; it returns io.EOF
// once the agent has half-closed and every lane is drained. It is for a caller
// that takes in several lanes on one goroutine (process.Client.Run reads
// stdout and stderr so), where a reader per lane would need a goroutine
// each.
func (s *Stream) ReadAny(p []byte) (n int, lane Lane, err error) {
	return s.readAny(context.Background(), p)
}

// LaneReader returns a reader of response DATA on lane l.
func (s *Stream) LaneReader(l Lane) io.Reader {
	return laneReader{context.Background(), &s.streamCore, l}
}

// LaneWriter returns a writer of request DATA on lane l.
func (s *Stream) LaneWriter(l Lane) io.Writer {
	return laneWriter{context.Background(), &s.streamCore, l, s.writeClosedErr()}
}

func (s *Stream) writeClosedErr() error {
	if s.done.isDone() && s.err != nil {
		return s.err
	}
	return errWriteClosed
}

// CloseWrite half-closes the request: the agent's Read returns io.EOF.
func (s *Stream) CloseWrite() error { return s.closeWrite() }

// Done is closed when the final status has arrived or the stream ended.
// Waiting on it reads nothing: Wait, Read and Write read the connection
// themselves when nobody else does, while the status a goroutine that
// only selects on Done waits for is read by the next of those, or by the
// client's background reader within a few milliseconds.
func (s *Stream) Done() <-chan struct{} { return s.done.wait() }

// Wait waits for the final status and unmarshals the result into result
// (unless nil), as Call does. It does not drain unread DATA.
func (s *Stream) Wait(result any) error {
	for !s.done.isDone() {
		// Reads the status if nobody else does; it may return before
		// s has ended (an interrupted read), and then looks again.
		if s.c.wait(context.Background(), s.done.wait()) != nil {
			<-s.done.wait() // the connection ended, and ends s with it
		}
	}
	return s.result(result)
}

// Close abandons the stream if it has not finished: the agent's handler
// is canceled, and Read, Write and Wait return ErrCanceled. It returns
// nil.
func (s *Stream) Close() error { return s.CloseWithError(ErrCanceled) }

// CloseWithError abandons the stream as Close does, except that Read,
// Write and Wait return err (ErrCanceled when err is nil), as
// io.PipeReader.CloseWithError does. It returns nil.
func (s *Stream) CloseWithError(err error) error {
	if err == nil {
		err = ErrCanceled
	}
	s.cancel(err)
	return nil
}

func (s *Stream) result(result any) error {
	if s.err != nil {
		return s.err
	}
	if result == nil || len(s.status) == 0 {
		return nil
	}
	if raw, ok := result.(*json.RawMessage); ok {
		// Unchecked, for a caller that decodes it itself: encoding/json's
		// validating scan can cost more than the decoding that follows.
		*raw = append((*raw)[:0], s.status...)
		return nil
	}
	if err := json.Unmarshal(s.status, result); err != nil {
		return fmt.Errorf("rpc: decoding result: %w", err)
	}
	return nil
}

// finish records the STATUS.
func (s *Stream) finish(st *wire.Status) {
	s.once.Do(func() {
		if code := Code(st.Code); code != OK {
			s.err = &Error{Code: code, Message: string(st.Message)}
		} else if len(st.Result) > 0 {
			s.status = append([]byte(nil), st.Result...)
		}
		s.end(nil)
	})
}

// abort ends the stream with err (connection lost, reset, or a
// flow-control violation by the agent) and retires it from the table.
func (s *Stream) abort(err error) {
	s.once.Do(func() {
		s.err = err
		s.c.removeStream(s.id)
		s.end(err)
	})
}

// cancel abandons the stream from this side and tells the agent.
func (s *Stream) cancel(err error) {
	s.once.Do(func() {
		s.err = err
		s.c.removeStream(s.id)
		_ = s.c.queueCaller(ctrlFrame{id: s.id, typ: wire.TypeCancel})
		s.end(err)
		s.c.interruptReader() // a goroutine reading while it waits on s returns
	})
}

func (s *Stream) end(err error) {
	s.finishRecv(err)
	s.finishSend()
	s.done.end()
	s.c.wokeReader()
}
