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

// NewEncoder returns an Encoder that writes to w. Its buffer is made
// by the first Encode, as large as that frame needs.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
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
