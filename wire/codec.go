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

// Decoder reads frames from an io.Reader.
type Decoder struct {
	r   io.Reader
	max uint32
	hdr [HeaderSize]byte
	buf []byte
	// A frame in progress: Decode resumes it after an error from r (say,
	// a read deadline) rather than losing the bytes it already has.
	hn      int  // header bytes read
	pn      int  // payload bytes read
	payload bool // header checked and buf sized for the payload
}

// NewDecoder returns a Decoder that reads from r and refuses payloads
// larger than maxPayload bytes (0 means DefaultMaxPayload). The reader
// should be buffered by the caller when it is a raw socket; Decode issues
// two reads per frame.
func NewDecoder(r io.Reader, maxPayload uint32) *Decoder {
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Decoder{r: r, max: maxPayload}
}

// SetMaxPayload changes the payload cap, e.g. after a HELLO exchange.
func (d *Decoder) SetMaxPayload(n uint32) { d.max = n }

// MaxPayload returns the current payload cap.
func (d *Decoder) MaxPayload() uint32 { return d.max }

// Reset discards decoder state, including a frame in progress, and reads
// from r from now on. Used when a transport starts a new session on the
// same device.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.hn, d.pn, d.payload = 0, 0, false
}

// InFrame reports whether part of a frame has been read: an error now
// leaves the stream inside a frame.
func (d *Decoder) InFrame() bool { return d.hn > 0 }

// Decode reads the next frame into f. f.Payload aliases the decoder's
// buffer until the next call. A stream that ends cleanly between frames
// returns io.EOF; one that ends inside a frame returns io.ErrUnexpectedEOF.
// The length is checked against the cap before any allocation.
//
// When the reader fails inside a frame with an error it may recover from
// (a deadline), the next Decode continues that frame where it stopped.
// After a malformed header the decoder is out of sync and must not be
// used again.
func (d *Decoder) Decode(f *Frame) error {
	for d.hn < HeaderSize {
		n, err := d.r.Read(d.hdr[d.hn:])
		d.hn += n
		if d.hn < HeaderSize && err != nil {
			if err == io.EOF && d.hn > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	n := binary.BigEndian.Uint32(d.hdr[0:4])
	t := Type(d.hdr[8])
	if !d.payload {
		if !t.Valid() {
			return fmt.Errorf("%w: %d on stream %d", ErrUnknownType, d.hdr[8], binary.BigEndian.Uint32(d.hdr[4:8]))
		}
		if n > d.max {
			return fmt.Errorf("%w: %v payload of %d bytes exceeds the cap of %d", ErrFrameTooLarge, t, n, d.max)
		}
		if uint32(cap(d.buf)) < n {
			d.buf = make([]byte, n, max(n, 4096))
		}
		d.buf = d.buf[:n]
		d.pn, d.payload = 0, true
	}
	for d.pn < len(d.buf) {
		m, err := d.r.Read(d.buf[d.pn:])
		d.pn += m
		if d.pn < len(d.buf) && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("wire: reading %d-byte %v payload: %w", n, t, err)
		}
	}
	d.hn, d.pn, d.payload = 0, 0, false
	f.StreamID = binary.BigEndian.Uint32(d.hdr[4:8])
	f.Type = t
	f.Flags = Flags(d.hdr[9])
	f.Payload = d.buf
	return nil
}
