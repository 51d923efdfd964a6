package rpc

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/guestrpc/guestrpc/wire"
)

// Lane numbers a DATA sub-channel of a stream (0..15). Lane 0 is the
// default; package process uses 1 for stderr and 2 for its events. All lanes of a stream share
// its flow-control window, so a reader must drain every lane it expects.
type Lane uint8

// DATA frame sizes. A frame is an eighth of the receiver's window, so
// that several are in flight, between baseChunk and maxChunk, which
// bounds it so that streams interleave fairly: 256 KiB to an agent
// (2 MiB window), 512 KiB to a host's client (4 MiB), which halves the
// system calls per byte of a download on both sides.
const (
	baseChunk = 256 << 10
	maxChunk  = 512 << 10
)

// frameSize is the largest DATA payload sent to a peer that grants
// window per stream and accepts frames of up to peerMax.
func frameSize(window, peerMax uint32) int64 {
	return min(max(int64(window)/8, baseChunk), maxChunk, int64(peerMax))
}

// streamCore is the per-stream state shared by server calls and client
// streams: buffered received DATA per lane, half-close flags and the send
// window.
type streamCore struct {
	c     *conn
	id    uint32
	owner streamOwner // the server call or client stream this core belongs to

	mu      sync.Mutex
	changed chan struct{} // closed and cleared on every state change; made lazily by waiters

	lanes    [][]chunk // received DATA per lane, oldest first; grown to the highest lane used
	buffered int       // bytes held in lanes
	consumed int       // bytes read but not yet credited back
	recvFin  bool      // peer half-closed
	recvErr  error     // stream ended abnormally
	sendWin  int64     // bytes we may still send
	sendFin  bool      // we half-closed
	noWait   bool      // an inline call: waiting would stall the read loop
	nextAny  Lane      // the lane readAny looks at first
}

// streamOwner is told when the connection ends a stream abnormally.
type streamOwner interface {
	abort(err error)
}

// notifyLocked wakes every waiter. Called with mu held.
func (s *streamCore) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
		s.c.wokeReader()
	}
}

// waitLocked releases mu until the state changes or ctx ends, then
// re-acquires it.
func (s *streamCore) waitLocked(ctx context.Context) error {
	if s.noWait {
		return errInlineWait
	}
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	ch := s.changed
	s.mu.Unlock()
	err := s.c.wait(ctx, ch)
	s.mu.Lock()
	return err
}

// deliver stores a received DATA payload. It fails when the peer
// overran the window we granted, or the server's memory budget is spent.
// owned says p is a chunk buffer of the caller's, which deliver may keep
// instead of copying (kept); the caller returns it to the pool if not.
func (s *streamCore) deliver(lane uint8, p []byte, fin, owned bool) (kept bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recvFin || s.recvErr != nil {
		return false, nil // late data after the end: drop
	}
	if s.buffered+len(p) > int(s.c.ourWindow) {
		return false, errFlowOverflow
	}
	if len(p) > 0 {
		if int(lane) >= len(s.lanes) {
			// Most streams use lane 0 alone; sixteen empty queues in
			// every stream would triple its size.
			s.lanes = append(s.lanes, make([][]chunk, int(lane)+1-len(s.lanes))...)
		}
		q := s.lanes[lane]
		switch n := len(q); {
		case owned:
			if !s.c.budget.take(int64(cap(p))) {
				return false, errBudget
			}
			s.lanes[lane] = append(q, chunk{b: p})
			kept = true
		case n > 0 && cap(q[n-1].b)-len(q[n-1].b) >= len(p):
			// Small frames are copied together, so that what a peer
			// pins is what it sent, not a buffer per frame.
			q[n-1].b = append(q[n-1].b, p...)
		default:
			b := s.c.getChunk(len(p))
			if b == nil {
				return false, errBudget
			}
			copy(b, p)
			s.lanes[lane] = append(q, chunk{b: b})
		}
		s.buffered += len(p)
	}
	if fin {
		s.recvFin = true
	}
	s.notifyLocked()
	return kept, nil
}

// release returns the buffers of DATA nobody will read now that the
// stream is over.
func (s *streamCore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.lanes {
		for j := range q {
			s.c.putChunk(q[j].b)
			q[j] = chunk{}
		}
		s.lanes[i] = nil
	}
	s.buffered = 0
}

// queue returns the received DATA of lane. Called with mu held.
func (s *streamCore) queue(lane Lane) []chunk {
	if int(lane) < len(s.lanes) {
		return s.lanes[lane]
	}
	return nil
}

// finishRecv marks the receive side ended with err (nil: clean EOF).
func (s *streamCore) finishRecv(err error) {
	s.mu.Lock()
	if err != nil && s.recvErr == nil {
		s.recvErr = err
	}
	s.recvFin = true
	s.notifyLocked()
	s.mu.Unlock()
}

// finishSend stops further sends: a write waiting for window, and any
// later one, returns its errClosed.
func (s *streamCore) finishSend() {
	s.mu.Lock()
	s.sendFin = true
	s.notifyLocked()
	s.mu.Unlock()
}

// credit adds window from a WINDOW frame.
func (s *streamCore) credit(n uint32) {
	s.mu.Lock()
	s.sendWin += int64(n)
	s.notifyLocked()
	s.mu.Unlock()
}

// read copies buffered DATA of lane into p, waiting under ctx.
func (s *streamCore) read(ctx context.Context, lane Lane, p []byte) (int, error) {
	if lane > wire.MaxLane {
		return 0, fmt.Errorf("rpc: lane %d out of range [0, %d]", lane, wire.MaxLane)
	}
	n, err := s.readLocked(ctx, lane, p)
	s.c.flushIfFree() // a WINDOW the read made due
	return n, err
}

func (s *streamCore) readLocked(ctx context.Context, lane Lane, p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if len(s.queue(lane)) > 0 {
			return s.takeLocked(lane, p), nil
		}
		if s.recvErr != nil {
			return 0, s.recvErr
		}
		if s.recvFin {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := s.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
}

// takeLocked copies the oldest DATA of lane, which has some, into p.
func (s *streamCore) takeLocked(lane Lane, p []byte) int {
	q := s.lanes[lane]
	n := copy(p, q[0].b[q[0].off:])
	q[0].off += n
	if q[0].off == len(q[0].b) {
		s.c.putChunk(q[0].b)
		q[0] = chunk{}
		s.lanes[lane] = q[1:]
	}
	s.consumeLocked(n)
	return n
}

// readAny copies buffered DATA of a lane that has some into p, taking
// the lanes in turn so that one that always has DATA cannot hold back
// the others, waiting under ctx; io.EOF once the peer has half-closed
// and every lane is drained.
func (s *streamCore) readAny(ctx context.Context, p []byte) (int, Lane, error) {
	s.mu.Lock()
	n, lane, err := s.readAnyLocked(ctx, p)
	s.mu.Unlock()
	s.c.flushIfFree() // a WINDOW the read made due
	return n, lane, err
}

func (s *streamCore) readAnyLocked(ctx context.Context, p []byte) (int, Lane, error) {
	for {
		for i := range len(s.lanes) {
			l := (int(s.nextAny) + i) % len(s.lanes)
			if len(s.lanes[l]) > 0 {
				s.nextAny = Lane((l + 1) % len(s.lanes))
				return s.takeLocked(Lane(l), p), Lane(l), nil
			}
		}
		switch {
		case s.recvErr != nil:
			return 0, 0, s.recvErr
		case s.recvFin:
			return 0, 0, io.EOF
		case len(p) == 0:
			return 0, 0, nil
		}
		if err := s.waitLocked(ctx); err != nil {
			return 0, 0, err
		}
	}
}

// consumeLocked accounts n bytes taken out of the buffers and returns
// window to the peer once a quarter of it has been consumed.
func (s *streamCore) consumeLocked(n int) {
	s.buffered -= n
	s.consumed += n
	if s.consumed >= int(s.c.ourWindow)/4 && !s.recvFin {
		s.c.queueWindow(s.id, uint32(s.consumed))
		s.consumed = 0
	}
}

// writeTo writes the DATA of lane to w as it arrives until the peer
// half-closes, handing each received buffer to w without another copy.
func (s *streamCore) writeTo(ctx context.Context, lane Lane, w io.Writer) (int64, error) {
	if lane > wire.MaxLane {
		return 0, fmt.Errorf("rpc: lane %d out of range [0, %d]", lane, wire.MaxLane)
	}
	var total int64
	for {
		s.mu.Lock()
		for len(s.queue(lane)) == 0 {
			if s.recvErr != nil {
				err := s.recvErr
				s.mu.Unlock()
				return total, err
			}
			if s.recvFin {
				s.mu.Unlock()
				return total, nil
			}
			if err := s.waitLocked(ctx); err != nil {
				s.mu.Unlock()
				return total, err
			}
		}
		q := s.lanes[lane]
		c := q[0]
		q[0] = chunk{}
		s.lanes[lane] = q[1:]
		s.consumeLocked(len(c.b) - c.off)
		s.mu.Unlock()
		s.c.flushIfFree() // a WINDOW the chunk made due
		n, err := w.Write(c.b[c.off:])
		total += int64(n)
		if err == nil && n < len(c.b)-c.off {
			err = io.ErrShortWrite
		}
		s.c.putChunk(c.b)
		if err != nil {
			return total, err
		}
	}
}

// write sends p as DATA on lane, blocking while the window is closed.
// Concurrent writers (say stdout and stderr pumps on two lanes) share the
// window; each chunk goes out as one whole frame. ctx bounds the wait for
// window, not a frame's write to the transport (see conn.send).
func (s *streamCore) write(ctx context.Context, lane Lane, p []byte, errClosed error) (int, error) {
	if lane > wire.MaxLane {
		return 0, fmt.Errorf("rpc: lane %d out of range [0, %d]", lane, wire.MaxLane)
	}
	written := 0
	for len(p) > 0 {
		n, err := s.reserve(ctx, len(p), errClosed)
		if err != nil {
			return written, err
		}
		if err := s.c.sendData(s.id, wire.Flags(0).WithLane(uint8(lane)), p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// reserve waits until the peer's window is open and takes up to want
// bytes of it for one frame: no more than frameSize.
func (s *streamCore) reserve(ctx context.Context, want int, errClosed error) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.sendWin <= 0 && !s.sendFin && s.recvErr == nil {
		if err := s.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
	if s.sendFin {
		return 0, errClosed
	}
	if s.recvErr != nil {
		return 0, s.recvErr
	}
	n := min(int64(want), s.sendWin, s.c.frameMax)
	s.sendWin -= n
	return int(n), nil
}

// unreserve gives back window that reserve took and no frame used.
func (s *streamCore) unreserve(n int) {
	if n > 0 {
		s.credit(uint32(n))
	}
}

// closeWrite half-closes our direction with a CLOSE frame.
func (s *streamCore) closeWrite() error {
	s.mu.Lock()
	if s.sendFin {
		s.mu.Unlock()
		return nil
	}
	s.sendFin = true
	s.notifyLocked()
	s.mu.Unlock()
	s.c.interruptReader() // a write waiting for window returns
	return s.c.sendControl(s.id, wire.TypeClose, 0, nil)
}

// laneReader and laneWriter adapt one lane to io.Reader / io.Writer.
type laneReader struct {
	ctx  context.Context
	s    *streamCore
	lane Lane
}

func (r laneReader) Read(p []byte) (int, error) { return r.s.read(r.ctx, r.lane, p) }

type laneWriter struct {
	ctx       context.Context
	s         *streamCore
	lane      Lane
	errClosed error
}

func (w laneWriter) Write(p []byte) (int, error) { return w.s.write(w.ctx, w.lane, p, w.errClosed) }
