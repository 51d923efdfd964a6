package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Decoder reads frames from an io.Reader. It buffers what it reads, so
// a socket needs no bufio.Reader in front: one read(2) usually brings in
// a whole small frame, or several, and their payloads are handed out
// without another copy.
//
// A Decoder waiting for a frame holds only a small buffer inside itself:
// the read buffer it was given (NewDecoderSize) is allocated when a
// burst of frames arrives, and reads go to it while they keep filling
// it. An idle connection's decoder therefore costs little memory, and a
// large payload's first bytes are seldom read into a buffer they must be
// copied out of.
type Decoder struct {
	r    io.Reader
	max  uint32
	size int    // size of the read buffer for bursts
	rbuf []byte // small[:] or large; rbuf[rpos:wpos] is read and not yet decoded
	rpos int
	wpos int
	// hot is set when the last read filled rbuf, so more is likely
	// waiting: the next read goes to the large buffer.
	hot   bool
	large []byte // the burst buffer, made on first use and kept
	small [smallRead]byte

	// A frame too large for the read buffer is assembled in buf. The
	// header of such a frame in progress is kept in hdr, so that Decode
	// resumes it after an error from r (say, a read deadline).
	buf []byte
	big bool
	hdr [HeaderSize]byte
	pn  int // payload bytes of the big frame read so far
	// need is the big frame's payload length. buf grows toward it as the
	// bytes arrive, so a peer that announces a large frame and sends
	// little of it makes us hold what it sent, not what it announced.
	need int

	// alloc, when set, gives the buffer that a large DATA payload is
	// read into; direct reports that buf came from it, own is the
	// decoder's own big-frame buffer, kept across frames.
	alloc  func(n int) []byte
	direct bool
	own    []byte
}

// DefaultReadBuffer is the read buffer of a NewDecoder.
const DefaultReadBuffer = 4 << 10

// smallRead is the size of the buffer a decoder reads into when it has
// nothing buffered: enough for the frames of a small call or a ping, and
// for the STATUS of most calls (an exec's result is about 140 bytes), so
// that those are read in one read(2) and need no other buffer.
const smallRead = 512

// DirectMin is the smallest DATA payload that a Decoder with a
// SetPayloadAlloc function reads into a buffer from it.
const DirectMin = 4 << 10

// maxEmptyReads bounds reads that return no bytes and no error in a row,
// as bufio does, so a broken reader cannot spin a Decode forever.
const maxEmptyReads = 100

// NewDecoder returns a Decoder that reads from r with a read buffer of
// DefaultReadBuffer bytes and refuses payloads larger than maxPayload
// bytes (0 means DefaultMaxPayload).
func NewDecoder(r io.Reader, maxPayload uint32) *Decoder {
	return NewDecoderSize(r, maxPayload, DefaultReadBuffer)
}

// NewDecoderSize is NewDecoder with a read buffer of bufSize bytes (at
// least HeaderSize), allocated when first needed. Frames that fit in the
// buffer are decoded in place; larger ones are read straight into a
// payload buffer that grows to the largest frame seen.
func NewDecoderSize(r io.Reader, maxPayload uint32, bufSize int) *Decoder {
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	d := &Decoder{r: r, max: maxPayload, size: max(bufSize, smallRead)}
	d.rbuf = d.small[:]
	return d
}

// SetPayloadAlloc makes the decoder read the payload of each DATA frame
// of at least DirectMin bytes that is not already buffered into a
// buffer of its length from alloc, and hand that buffer over as the
// frame's Payload: the caller owns it from then on, and the decoder
// keeps no reference to it. alloc may return nil (or a buffer of another
// length) to decline; the payload is then read as any other. A frame
// interrupted by a read error keeps its buffer until a later Decode
// finishes it, and Reset drops it. This saves the copy from the
// decoder's buffer to one the caller keeps.
func (d *Decoder) SetPayloadAlloc(alloc func(n int) []byte) { d.alloc = alloc }

// SetMaxPayload changes the payload cap, e.g. after a HELLO exchange.
func (d *Decoder) SetMaxPayload(n uint32) { d.max = n }

// MaxPayload returns the current payload cap.
func (d *Decoder) MaxPayload() uint32 { return d.max }

// Reset discards decoder state, including buffered bytes and a frame in
// progress, and reads from r from now on. Used when a transport starts a
// new session on the same device.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.rpos, d.wpos, d.big, d.pn, d.hot = 0, 0, false, 0, false
	d.rbuf = d.small[:]
	if d.direct {
		d.buf, d.direct = d.own, false
	}
}

// InFrame reports whether part of a frame has been read: an error now
// leaves the stream inside a frame.
func (d *Decoder) InFrame() bool { return d.big || d.wpos > d.rpos }

// Decode reads the next frame into f. f.Payload aliases the decoder's
// buffers until the next call (except a payload from SetPayloadAlloc's
// function, which the caller owns). A stream that ends cleanly between
// frames returns io.EOF; one that ends inside a frame returns
// io.ErrUnexpectedEOF. The length is checked against the cap before any
// allocation.
//
// When the reader fails inside a frame with an error it may recover from
// (a deadline), the next Decode continues that frame where it stopped.
// After a malformed header the decoder is out of sync and must not be
// used again.
func (d *Decoder) Decode(f *Frame) error {
	if d.big {
		return d.decodeBig(f)
	}
	if d.rpos == d.wpos {
		// Nothing buffered: wait in the small buffer unless a burst is
		// under way.
		d.rpos, d.wpos = 0, 0
		d.rbuf = d.small[:]
		if d.hot {
			d.useLarge()
		}
	}
	if err := d.fill(HeaderSize); err != nil {
		if err == io.EOF && d.wpos > d.rpos {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	h := d.rbuf[d.rpos : d.rpos+HeaderSize]
	n := binary.BigEndian.Uint32(h[0:4])
	id := binary.BigEndian.Uint32(h[4:8])
	t, flags := Type(h[8]), Flags(h[9])
	if !t.Valid() {
		return fmt.Errorf("%w: %d on stream %d", ErrUnknownType, h[8], id)
	}
	if n > d.max {
		return fmt.Errorf("%w: %v payload of %d bytes exceeds the cap of %d", ErrFrameTooLarge, t, n, d.max)
	}
	total := HeaderSize + int(n)
	if d.wpos-d.rpos < total {
		switch {
		case t == TypeData && int(n) >= DirectMin && d.alloc != nil && d.startDirect(h, int(n)):
			return d.decodeBig(f)
		case total > d.size:
			d.startBig(h, int(n))
			return d.decodeBig(f)
		case total > len(d.rbuf):
			d.useLarge()
		}
	}
	// fill may move the buffered bytes, and h with them.
	if err := d.fill(total); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("wire: reading %d-byte %v payload: %w", n, t, err)
	}
	f.StreamID, f.Type, f.Flags = id, t, flags
	f.Payload = d.rbuf[d.rpos+HeaderSize : d.rpos+total : d.rpos+total]
	d.rpos += total
	return nil
}

// useLarge moves the buffered bytes to the large buffer and reads into it
// from now on.
func (d *Decoder) useLarge() {
	if len(d.rbuf) == d.size {
		return
	}
	if d.large == nil {
		d.large = make([]byte, d.size)
	}
	d.wpos = copy(d.large, d.rbuf[d.rpos:d.wpos])
	d.rpos = 0
	d.rbuf = d.large
}

// startBig begins a frame too big for the read buffer: what has arrived
// of it moves to the payload buffer, and the rest is read straight into
// that.
func (d *Decoder) startBig(h []byte, n int) {
	copy(d.hdr[:], h)
	d.need = n
	if start := min(d.need, 2*d.size); cap(d.buf) < start {
		d.buf = make([]byte, start)
		d.own = d.buf
	}
	d.buf = d.buf[:min(cap(d.buf), d.need)]
	d.takeBuffered()
}

// startDirect begins a DATA frame read into a buffer from alloc; false
// when alloc declines.
func (d *Decoder) startDirect(h []byte, n int) bool {
	b := d.alloc(n)
	if len(b) != n {
		return false
	}
	copy(d.hdr[:], h)
	d.need = n
	d.buf, d.direct = b, true
	d.takeBuffered()
	return true
}

// takeBuffered moves the buffered bytes after the header in hdr to buf.
func (d *Decoder) takeBuffered() {
	d.pn = copy(d.buf, d.rbuf[d.rpos+HeaderSize:d.wpos])
	d.rpos, d.wpos, d.big, d.hot = 0, 0, true, false
}

// fill reads until rbuf holds need undecoded bytes, first moving them to
// the front of rbuf if they would not fit behind it.
func (d *Decoder) fill(need int) error {
	if d.wpos-d.rpos >= need {
		return nil
	}
	if d.rpos+need > len(d.rbuf) {
		d.wpos = copy(d.rbuf, d.rbuf[d.rpos:d.wpos])
		d.rpos = 0
	}
	for empty := 0; d.wpos-d.rpos < need; {
		n, err := d.r.Read(d.rbuf[d.wpos:])
		d.hot = n > 0 && d.wpos+n == len(d.rbuf)
		d.wpos += n
		if d.wpos-d.rpos >= need {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if empty++; empty == maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// grow doubles buf, up to the big frame's length.
func (d *Decoder) grow() {
	n := min(d.need, max(2*len(d.buf), 4<<10))
	if cap(d.buf) >= n {
		d.buf = d.buf[:n]
		return
	}
	b := make([]byte, n)
	copy(b, d.buf)
	d.buf = b
	d.own = b
}

// decodeBig reads the rest of a frame too large for the read buffer.
func (d *Decoder) decodeBig(f *Frame) error {
	t := Type(d.hdr[8])
	for empty := 0; d.pn < d.need; {
		if d.pn == len(d.buf) {
			d.grow()
		}
		n, err := d.r.Read(d.buf[d.pn:])
		d.pn += n
		if d.pn == d.need {
			break
		}
		if err == nil && n == 0 {
			if empty++; empty == maxEmptyReads {
				err = io.ErrNoProgress
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("wire: reading %d-byte %v payload: %w", d.need, t, err)
		}
	}
	d.big, d.pn = false, 0
	f.StreamID = binary.BigEndian.Uint32(d.hdr[4:8])
	f.Type = t
	f.Flags = Flags(d.hdr[9])
	f.Payload = d.buf[:d.need:d.need]
	if d.direct {
		d.buf, d.direct = d.own, false
	}
	return nil
}
