package vix

import (
	"errors"
	"io"
	"sync"
)

// streamBuf is a bounded byte queue between a program and the host. The
// program's side blocks (a full buffer holds its output back through
// flow control; an empty one waits for input); the host's side, reached
// from the one TCLO loop, never does.
type streamBuf struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	max    int
	closed bool // no more writes: EOF once drained
	gone   bool // the reader went away: writes are discarded
}

// errFull is a host write to a stdin whose buffer is full.
var errFull = errors.New("vix: the program's stdin buffer is full")

func newStreamBuf(max int) *streamBuf {
	b := &streamBuf{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Write queues p, waiting while the buffer is full (the program's
// output side).
func (b *streamBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for len(p) > 0 {
		for len(b.buf) >= b.max && !b.gone && !b.closed {
			b.cond.Wait()
		}
		if b.gone || b.closed {
			return n, io.ErrClosedPipe
		}
		k := min(len(p), b.max-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p, n = p[k:], n+k
		b.cond.Broadcast()
	}
	return n, nil
}

// Read waits for bytes or the end (the program's input side).
func (b *streamBuf) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) == 0 && !b.closed && !b.gone {
		b.cond.Wait()
	}
	return b.takeLocked(p)
}

// readNow takes what is queued without waiting (the host's side); an
// empty buffer reads as EOF.
func (b *streamBuf) readNow(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeLocked(p)
}

func (b *streamBuf) takeLocked(p []byte) (int, error) {
	if len(b.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	if len(b.buf) == 0 {
		b.buf = nil // let the array go
	}
	b.cond.Broadcast()
	return n, nil
}

// writeNow queues what fits without waiting (the host's side).
func (b *streamBuf) writeNow(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.gone {
		return 0, io.ErrClosedPipe
	}
	k := min(len(p), b.max-len(b.buf))
	b.buf = append(b.buf, p[:k]...)
	b.cond.Broadcast()
	if k < len(p) {
		return k, errFull
	}
	return k, nil
}

// Len is how many bytes are queued.
func (b *streamBuf) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// CloseWrite ends the stream: the reader drains it, then sees EOF.
func (b *streamBuf) CloseWrite() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// abandon discards the stream: waiting writers and readers return.
func (b *streamBuf) abandon() {
	b.mu.Lock()
	b.gone, b.buf = true, nil
	b.cond.Broadcast()
	b.mu.Unlock()
}
