package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

const (
	// DefaultWindow is the per-stream receive window a Server announces
	// in HELLO: eight of the 256 KiB DATA frames a client sends it, so
	// that a sender has the next frames on their way while the receiver
	// takes in the last.
	// With a window of one frame a transfer goes frame by frame, each
	// waiting for the WINDOW that the previous one's consumption sends
	// back; 2 MiB, what a unix socket holds with
	// channel.DefaultUnixWriteBuffer, measured uploads 5–10% faster than
	// 1 MiB, with the agent's memory after transfers unchanged (its
	// trimmer gives the buffers back).
	DefaultWindow = 2 << 20
	// DefaultClientWindow is the window a Client grants: larger than the
	// agent's, since it is the host's memory, and what paces downloads.
	// With a unix socket's send buffer holding 2 MiB
	// (channel.DefaultUnixWriteBuffer, doubled by the kernel), a 1 MiB
	// window left the agent waiting for WINDOW frames with the socket
	// half empty: downloads measured 0.94–0.99× of the floor with 1 MiB,
	// 1.22–1.34× with 4 MiB.
	DefaultClientWindow = 4 << 20
	// DefaultMaxStreams caps concurrent streams on one connection.
	DefaultMaxStreams = 1024
	// maxControlQueue bounds control frames waiting to be written; a peer
	// that floods PINGs without reading replies is cut off past it.
	maxControlQueue = 4096
	// handshakeTimeout bounds the wait for the peer's HELLO.
	handshakeTimeout = 30 * time.Second
)

var (
	errProtocol     = errors.New("rpc: protocol violation")
	errConnClosed   = &Error{Code: Unavailable, Message: "connection closed"}
	errWriteClosed  = errors.New("rpc: write after CloseWrite or end of stream")
	errFlowOverflow = &Error{Code: ResourceExhausted, Message: "peer exceeded the stream's flow-control window"}
	errBudget       = &Error{Code: ResourceExhausted, Message: "the agent's memory budget for peers is spent"}
	errInlineWait   = &Error{Code: FailedPrecondition, Message: "an Inline handler cannot wait for the peer's DATA or window"}
)

// ctrlFrame is a queued control frame; small payloads live inline.
type ctrlFrame struct {
	id      uint32
	typ     wire.Type
	flags   wire.Flags
	inline  [8]byte
	n       int    // bytes of inline used
	payload []byte // for larger payloads (error STATUS)
}

// conn is one HELLO-negotiated connection: the frame read loop, the
// control-frame writer and the stream table. serverConn and Client embed
// it.
type conn struct {
	ch  channel.Channel
	log *slog.Logger

	ourWindow uint32     // window we grant per stream
	chunks    chunkPools // buffers of received DATA
	budget    *budget    // the server's memory budget; nil on a client
	peerMax   uint32     // largest payload the peer accepts
	peerWin   uint32     // initial window the peer grants
	frameMax  int64      // largest DATA payload we send (frameSize)
	peerName  string

	smu     sync.Mutex
	streams streamTable

	// wmu is held while a frame is written; whoever releases it first
	// writes the control frames queued meanwhile (see unlockWrite).
	wmu   sync.Mutex
	cmu   sync.Mutex
	ctrl  []ctrlFrame  // queued control frames (cmu)
	nctrl atomic.Int32 // len(ctrl), read without cmu
	// cspare is the other control queue, swapped with ctrl by the writer
	// (wmu).
	cspare []ctrlFrame
	// flushing says a flusher goroutine is writing the queue for a
	// reader (cmu).
	flushing bool
	ctrlDone bool // the connection is closed: start no flusher (cmu)

	// woke is set (wokeReader) when a goroutine was made runnable on the
	// reader's behalf (a handler, a waiting caller or reader of a stream,
	// the control writer), so that the read loop yields to it before
	// reading on.
	woke atomic.Bool
	// direct is the last buffer the channel was given to read a DATA
	// payload into (allocDirect); only the goroutine reading the
	// connection touches it.
	direct []byte
	// frames counts frames received, for the server's idle check.
	frames atomic.Uint64
	// writing counts frame writes that may block in progress, and
	// written those finished, for the server's stall check: a peer that
	// reads nothing leaves a write blocked with none finishing.
	writing atomic.Int32
	written atomic.Uint64

	closeOnce sync.Once
	closed    chan struct{}
	errMu     sync.Mutex
	err       error
	wg        sync.WaitGroup // a client's background reader and flushers

	// waiter, on a client, is how a stream's waits for DATA, window or
	// status go: the waiting goroutine reads the connection itself when
	// nobody else does (Client.awaitStream). nil on a server, whose read
	// loop reads all the time.
	waiter streamWaiter
}

// streamWaiter is a client's side of stream waits (see conn.waiter).
type streamWaiter interface {
	// awaitStream waits until done is closed, reading the connection
	// meanwhile if nobody else does; it may return nil early, and the
	// caller looks again.
	awaitStream(ctx context.Context, done <-chan struct{}) error
	// interruptReader makes a goroutine that reads while it waits look
	// again: this side changed a stream's state (Close, CloseWrite), and
	// no frame may come to end its read.
	interruptReader()
}

// interruptReader tells a client's reading waiter that this side changed
// a stream's state; a no-op on a server.
func (c *conn) interruptReader() {
	if c.waiter != nil {
		c.waiter.interruptReader()
	}
}

func newConn(ch channel.Channel, log *slog.Logger, window uint32) *conn {
	if window == 0 {
		window = DefaultWindow
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &conn{
		ch:        ch,
		log:       log,
		ourWindow: window,
		frameMax:  baseChunk, // until the peer's HELLO says more
		closed:    make(chan struct{}),
	}
}

// wait waits until done is closed (nil), ctx ends (its error) or the
// connection does (the error of operations on a closed connection). On
// a client it may also return nil before done is closed: its callers
// wait for a condition in a loop.
func (c *conn) wait(ctx context.Context, done <-chan struct{}) error {
	if c.waiter != nil {
		return c.waiter.awaitStream(ctx, done)
	}
	return c.waitDone(ctx, done)
}

// waitDone waits for done, ctx or the connection to end, as wait does,
// for a goroutine that reads nothing meanwhile.
func (c *conn) waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return c.connErr()
	}
}

// handshake exchanges HELLOs. The host speaks first and the agent answers
// once it has read the host's, so the exchange also works over
// unbuffered transports (net.Pipe) where two simultaneous writes would
// wait for each other forever. The agent passes admit, which sees the
// host's HELLO before the agent answers: a refusal goes out as a STATUS
// on stream 0 in place of the agent's HELLO, and the handshake fails
// with it on both sides.
func (c *conn) handshake(ctx context.Context, ours wire.Hello, admit func(wire.Hello) *Error) error {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	ours.Version = wire.Version
	ours.MaxPayload = channel.MaxPayload(c.ch)
	ours.InitialWindow = c.ourWindow
	hello := wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, ours)}
	speakFirst := admit == nil
	if speakFirst {
		if err := c.ch.Send(ctx, &hello); err != nil {
			return fmt.Errorf("rpc: sending HELLO: %w", err)
		}
	}
	var f wire.Frame
	if err := c.ch.Receive(ctx, &f); err != nil {
		return fmt.Errorf("rpc: waiting for HELLO: %w", err)
	}
	if f.Type == wire.TypeStatus && f.StreamID == 0 && speakFirst {
		st, err := wire.ParseStatus(f.Payload)
		if err != nil {
			return fmt.Errorf("rpc: agent refused the connection with a malformed STATUS: %w", err)
		}
		return fmt.Errorf("rpc: agent refused the connection: %w", &Error{Code: Code(st.Code), Message: string(st.Message)})
	}
	if f.Type != wire.TypeHello || f.StreamID != 0 {
		return fmt.Errorf("%w: first frame is %v on stream %d, want HELLO on stream 0", errProtocol, f.Type, f.StreamID)
	}
	h, err := wire.ParseHello(f.Payload)
	if err != nil {
		return fmt.Errorf("rpc: peer HELLO: %w", err)
	}
	if h.Version != wire.Version {
		return fmt.Errorf("%w: peer speaks protocol version %d, this side %d", errProtocol, h.Version, wire.Version)
	}
	c.peerMax, c.peerWin, c.peerName = h.MaxPayload, h.InitialWindow, h.Name
	c.frameMax = frameSize(h.InitialWindow, h.MaxPayload)
	if !speakFirst {
		if refusal := admit(h); refusal != nil {
			f := wire.Frame{Type: wire.TypeStatus, Payload: wire.AppendStatus(nil, uint16(refusal.Code), refusal.Message, nil)}
			_ = c.ch.Send(ctx, &f)
			return fmt.Errorf("rpc: refused peer %q: %w", h.Name, refusal)
		}
		if err := c.ch.Send(ctx, &hello); err != nil {
			return fmt.Errorf("rpc: sending HELLO: %w", err)
		}
	}
	return nil
}

// payloadAllocator is implemented by channels that can read large DATA
// payloads straight into a buffer the caller keeps (channel.Stream).
type payloadAllocator interface {
	SetPayloadAlloc(alloc func(n int) []byte)
}

// readDirect has the channel read large DATA payloads into chunk buffers,
// which deliver then keeps without copying them.
func (c *conn) readDirect() {
	if pa, ok := c.ch.(payloadAllocator); ok {
		pa.SetPayloadAlloc(c.allocDirect)
	}
}

// allocDirect gives the channel a chunk to read a DATA payload of n bytes
// into. It is not charged to the memory budget until deliver keeps it:
// while the payload arrives it stands in for the channel's own buffer.
func (c *conn) allocDirect(n int) []byte {
	if n > largeChunk {
		return nil
	}
	c.direct = c.chunks.get(n)
	return c.direct
}

// ownDirect reports whether p is the payload of a direct read, which the
// caller now owns, and forgets it.
func (c *conn) ownDirect(p []byte) bool {
	if c.direct == nil || len(p) == 0 || &p[0] != &c.direct[0] {
		return false
	}
	c.direct = nil
	return true
}

// readLoop reads the connection until it ends, with handle deciding
// what each frame means.
func (c *conn) readLoop(handle func(f *wire.Frame) error) {
	c.readDirect()
	var f wire.Frame
	for c.readFrame(context.Background(), &f, handle) == nil {
		c.yield()
	}
}

// yield lets a goroutine the last frame woke onto this P run before the
// reader's next read, which usually finds nothing and would otherwise
// delay it by a system call and a park. With nothing woken, yielding
// would only cost a trip through the scheduler.
func (c *conn) yield() {
	if c.woke.Swap(false) {
		runtime.Gosched()
	}
}

// wokeReader notes that the frame being handled made a goroutine
// runnable, so that yield lets it run before the next read.
func (c *conn) wokeReader() { c.woke.Store(true) }

// readFrame receives one frame and acts on it. An error other than ctx
// ending ends the connection; ctx ending leaves it intact, since the
// channel resumes an interrupted frame on the next Receive. Only a caller
// reading its own reply passes a ctx that can end, and only on a
// channel.Interruptible channel; the read loops pass Background.
func (c *conn) readFrame(ctx context.Context, f *wire.Frame, handle func(f *wire.Frame) error) error {
	err := c.ch.Receive(ctx, f)
	if err == nil {
		c.frames.Add(1)
		err = c.handleCommon(f, handle)
	}
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && err == cerr {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, channel.ErrClosed) {
		c.close(nil)
	} else {
		c.log.Warn("rpc: connection failed", "peer", c.peerName, "error", err)
		c.close(err)
	}
	return err
}

// handleCommon deals with the frames both sides treat alike.
func (c *conn) handleCommon(f *wire.Frame, handle func(f *wire.Frame) error) error {
	if f.Flags&wire.FlagsReserved != 0 {
		return fmt.Errorf("%w: %v on stream %d sets reserved flag bits %#02x", errProtocol, f.Type, f.StreamID, uint8(f.Flags&wire.FlagsReserved))
	}
	if onZero := f.Type == wire.TypePing || f.Type == wire.TypePong || f.Type == wire.TypeHello; onZero != (f.StreamID == 0) {
		return fmt.Errorf("%w: %v on stream %d (HELLO, PING and PONG belong to stream 0, and only they)", errProtocol, f.Type, f.StreamID)
	}
	switch f.Type {
	case wire.TypeHello:
		return fmt.Errorf("%w: second HELLO", errProtocol)
	case wire.TypePing:
		if _, err := wire.ParsePing(f.Payload); err != nil {
			return err
		}
		return c.queue(ctrlFrame{typ: wire.TypePong, inline: [8]byte(f.Payload), n: 8})
	case wire.TypeWindow:
		n, err := wire.ParseWindow(f.Payload)
		if err != nil {
			return err
		}
		if s := c.stream(f.StreamID); s != nil {
			s.credit(n)
		}
		return nil
	case wire.TypeData, wire.TypeClose:
		owned := c.ownDirect(f.Payload)
		s := c.stream(f.StreamID)
		if s == nil {
			if owned {
				c.chunks.put(f.Payload)
			}
			return nil // the stream already ended here; late frames are normal
		}
		if f.Type == wire.TypeClose && len(f.Payload) != 0 {
			return fmt.Errorf("%w: CLOSE with %d payload bytes", errProtocol, len(f.Payload))
		}
		fin := f.Type == wire.TypeClose || f.Flags&wire.FlagFin != 0
		kept, err := s.deliver(f.Flags.Lane(), f.Payload, fin, owned)
		if owned && !kept {
			c.chunks.put(f.Payload)
		}
		if err != nil {
			c.reset(s, err)
		}
		return nil
	}
	return handle(f)
}

// reset ends a stream whose DATA we cannot take: the peer ignored flow
// control, or the server's memory budget is spent.
func (c *conn) reset(s *streamCore, err error) {
	c.log.Warn("rpc: resetting stream", "stream", s.id, "peer", c.peerName, "reason", err)
	s.finishRecv(err)
	s.owner.abort(err)
	_ = c.queue(ctrlFrame{id: s.id, typ: wire.TypeCancel})
}

func (c *conn) stream(id uint32) *streamCore {
	c.smu.Lock()
	s := c.streams.get(id)
	c.smu.Unlock()
	return s
}

// takeStream removes stream id from the table and returns it, or nil.
func (c *conn) takeStream(id uint32) *streamCore {
	c.smu.Lock()
	s := c.streams.take(id)
	c.smu.Unlock()
	return s
}

func (c *conn) removeStream(id uint32) {
	c.smu.Lock()
	c.streams.take(id)
	c.smu.Unlock()
}

// sendControl sends a small frame from the calling goroutine.
func (c *conn) sendControl(id uint32, t wire.Type, flags wire.Flags, payload []byte) error {
	f := wire.Frame{StreamID: id, Type: t, Flags: flags, Payload: payload}
	return c.send(&f)
}

func (c *conn) sendData(id uint32, flags wire.Flags, p []byte) error {
	f := wire.Frame{StreamID: id, Type: wire.TypeData, Flags: flags, Payload: p}
	return c.send(&f)
}

// send writes f from the calling goroutine. It takes no ctx, and a
// caller's ctx cannot interrupt it while the transport blocks: a frame
// abandoned half-written would leave the peer reading the rest of the
// stream as the remainder of that frame, so the only way out of such a
// write is to close the connection, which is what ends it (Client.Close,
// the server's shutdown, or the peer going away). Callers bound only the
// waits before a send (stream windows) with their ctx.
func (c *conn) send(f *wire.Frame) error {
	select {
	case <-c.closed:
		return c.connErr()
	default:
	}
	c.wmu.Lock()
	c.writing.Add(1)
	err := c.ch.Send(context.Background(), f)
	c.wroteFrame()
	c.unlockWrite()
	if err != nil {
		c.close(err)
		return c.connErr()
	}
	return nil
}

// wroteFrame records the end of a write that may have blocked.
func (c *conn) wroteFrame() {
	c.written.Add(1)
	c.writing.Add(-1)
}

// close ends the connection once; err nil means a clean end.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		c.cmu.Lock()
		c.ctrlDone = true
		c.cmu.Unlock()
		close(c.closed)
		_ = c.ch.Close()
		c.smu.Lock()
		streams := c.streams.appendAll(make([]*streamCore, 0, c.streams.len()))
		c.smu.Unlock()
		for _, s := range streams {
			s.finishRecv(c.connErr())
			s.owner.abort(c.connErr())
		}
	})
}

// connErr is what operations on a closed connection return.
func (c *conn) connErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		return errConnClosed
	}
	return &Error{Code: Unavailable, Message: "connection failed: " + c.err.Error(), cause: c.err}
}
