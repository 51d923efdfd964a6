package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// Encoder writes frames to an io.Writer. It is not safe for concurrent use;
// callers serialize access (channel.Stream does).
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, buf: make([]byte, 0, HeaderSize+4096)}
}

// Encode writes f with a single Write call. The encoder keeps one buffer
// that grows to the largest frame written, so steady traffic does not
// allocate.
func (e *Encoder) Encode(f *Frame) error {
	if len(f.Payload) > LimitMaxPayload {
		return fmt.Errorf("%w: %v payload of %d bytes exceeds %d", ErrFrameTooLarge, f.Type, len(f.Payload), LimitMaxPayload)
	}
	if !f.Type.Valid() {
		return fmt.Errorf("%w: %d", ErrUnknownType, uint8(f.Type))
	}
	if len(f.Payload) >= gatherMin {
		switch e.w.(type) {
		case *net.UnixConn, *net.TCPConn:
			// One writev: the payload goes to the kernel without first
			// being copied into our buffer.
			e.buf = AppendHeader(e.buf[:0], f.StreamID, f.Type, f.Flags, len(f.Payload))
			bufs := net.Buffers{e.buf, f.Payload}
			_, err := bufs.WriteTo(e.w)
			return err
		}
	}
	e.buf = AppendFrame(e.buf[:0], f)
	_, err := e.w.Write(e.buf)
	return err
}

// gatherMin is the payload size from which Encode hands header and
// payload to the kernel together (writev) instead of copying them into
// one buffer: below it the copy is cheaper than the extra iovec.
const gatherMin = 16 << 10

// AppendFrame appends the encoding of f (header and payload) to b.
func AppendFrame(b []byte, f *Frame) []byte {
	b = AppendHeader(b, f.StreamID, f.Type, f.Flags, len(f.Payload))
	return append(b, f.Payload...)
}

// AppendHeader appends a frame header for a payload of n bytes to b.
func AppendHeader(b []byte, stream uint32, t Type, flags Flags, n int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, byte(t), byte(flags))
}

// Decoder reads frames from an io.Reader. It buffers what it reads, so
// a socket needs no bufio.Reader in front: one read(2) usually brings in
// a whole small frame, or several, and their payloads are handed out
// without another copy.
type Decoder struct {
	r    io.Reader
	max  uint32
	rbuf []byte // read buffer; rbuf[rpos:wpos] is read and not yet decoded
	rpos int
	wpos int

	// A frame too large for rbuf is assembled in buf. The header of such
	// a frame in progress is kept in hdr, so that Decode resumes it
	// after an error from r (say, a read deadline).
	buf []byte
	big bool
	hdr [HeaderSize]byte
	pn  int // payload bytes of the big frame read so far
	// need is the big frame's payload length. buf grows toward it as the
	// bytes arrive, so a peer that announces a large frame and sends
	// little of it makes us hold what it sent, not what it announced.
	need int
}

// DefaultReadBuffer is the read buffer of a NewDecoder.
const DefaultReadBuffer = 4 << 10

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
// least HeaderSize). Frames that fit in the buffer are decoded in place;
// larger ones are read straight into a payload buffer that grows to the
// largest frame seen.
func NewDecoderSize(r io.Reader, maxPayload uint32, bufSize int) *Decoder {
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Decoder{r: r, max: maxPayload, rbuf: make([]byte, max(bufSize, HeaderSize))}
}

// SetMaxPayload changes the payload cap, e.g. after a HELLO exchange.
func (d *Decoder) SetMaxPayload(n uint32) { d.max = n }

// MaxPayload returns the current payload cap.
func (d *Decoder) MaxPayload() uint32 { return d.max }

// Reset discards decoder state, including buffered bytes and a frame in
// progress, and reads from r from now on. Used when a transport starts a
// new session on the same device.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.rpos, d.wpos, d.big, d.pn = 0, 0, false, 0
}

// InFrame reports whether part of a frame has been read: an error now
// leaves the stream inside a frame.
func (d *Decoder) InFrame() bool { return d.big || d.wpos > d.rpos }

// Decode reads the next frame into f. f.Payload aliases the decoder's
// buffers until the next call. A stream that ends cleanly between frames
// returns io.EOF; one that ends inside a frame returns io.ErrUnexpectedEOF.
// The length is checked against the cap before any allocation.
//
// When the reader fails inside a frame with an error it may recover from
// (a deadline), the next Decode continues that frame where it stopped.
// After a malformed header the decoder is out of sync and must not be
// used again.
func (d *Decoder) Decode(f *Frame) error {
	if d.big {
		return d.decodeBig(f)
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
	if total > len(d.rbuf) {
		// Too big for the read buffer: move what has arrived to the
		// payload buffer and read the rest straight into it.
		copy(d.hdr[:], h)
		d.need = int(n)
		if start := min(d.need, 2*len(d.rbuf)); cap(d.buf) < start {
			d.buf = make([]byte, start)
		}
		d.buf = d.buf[:min(cap(d.buf), d.need)]
		d.pn = copy(d.buf, d.rbuf[d.rpos+HeaderSize:d.wpos])
		d.rpos, d.wpos, d.big = 0, 0, true
		return d.decodeBig(f)
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
	if d.rpos == d.wpos {
		d.rpos, d.wpos = 0, 0
	}
	return nil
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
	f.Payload = d.buf
	return nil
}
