package rpc

import "sync"

// chunk is received DATA not yet read past off. Small DATA frames are
// appended to the last chunk of their lane while it has room.
type chunk struct {
	b   []byte
	off int
}

// Chunk sizes. A stream pins at most its window in DATA plus, per lane,
// the unused tail of one chunk: small frames fill a small chunk, so a
// peer sending one-byte frames pins bytes, not a buffer per frame.
// A middle size keeps frames of 16–64 KiB (a virtio-console port's
// 32 KiB writes, a pipe's 64 KiB) from pinning, and being charged for, a
// whole large chunk, and a frame size keeps the 256 KiB frames an agent
// receives from pinning a 512 KiB one.
const (
	smallChunk  = 16 << 10
	middleChunk = 64 << 10
	frameChunk  = baseChunk
	largeChunk  = maxChunk // the largest DATA frame this implementation sends
)

// chunkPools recycle the buffers that hold received DATA, so a busy
// stream neither allocates nor zeroes a buffer per frame.
type chunkPools struct{ small, middle, frame, large sync.Pool }

func (cp *chunkPools) get(n int) []byte {
	switch {
	case n <= smallChunk:
		if b, ok := cp.small.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, smallChunk)
	case n <= middleChunk:
		if b, ok := cp.middle.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, middleChunk)
	case n <= frameChunk:
		if b, ok := cp.frame.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, frameChunk)
	case n <= largeChunk:
		if b, ok := cp.large.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, largeChunk)
	}
	return make([]byte, n) // from a peer with larger frames
}

func (cp *chunkPools) put(b []byte) {
	b = b[:0]
	switch cap(b) {
	case smallChunk:
		cp.small.Put(&b)
	case middleChunk:
		cp.middle.Put(&b)
	case frameChunk:
		cp.frame.Put(&b)
	case largeChunk:
		cp.large.Put(&b)
	}
}

// getChunk returns a buffer of n bytes for received DATA, charged to the
// server's memory budget by its capacity; nil when the budget is spent.
func (c *conn) getChunk(n int) []byte {
	b := c.chunks.get(n)
	if !c.budget.take(int64(cap(b))) {
		c.chunks.put(b)
		return nil
	}
	return b
}

// putChunk returns a buffer from getChunk.
func (c *conn) putChunk(b []byte) {
	c.budget.give(int64(cap(b)))
	c.chunks.put(b)
}
