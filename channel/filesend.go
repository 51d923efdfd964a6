package channel

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/guestrpc/guestrpc/wire"
)

// ErrNoFileSend is returned by Stream.SendFile when the stream or the
// file cannot use the zero-copy path; the caller copies instead.
var ErrNoFileSend = errors.New("channel: the stream cannot send from this file without copying")

// SetPayloadAlloc makes Receive read the payload of each large DATA
// frame into a buffer from alloc and hand it over as the frame's
// Payload, which the caller then owns; see wire.Decoder.SetPayloadAlloc.
// Call it before Receive, not concurrently with it.
func (s *Stream) SetPayloadAlloc(alloc func(n int) []byte) { s.dec.SetPayloadAlloc(alloc) }

// FileSender sends frames whose payloads come from a file, moving them
// from the file to the socket with splice(2) through a pipe so that no
// byte is copied through user space. A payload is first loaded into the
// pipe (Fill), which touches only the file, and then sent after its
// frame header (Send). A FileSender is not safe for concurrent use.
type FileSender struct {
	s      *Stream
	filled int // bytes waiting in the pipe
	sys    fileSend
}

// SendFile returns a FileSender for payloads from src, which must be a
// regular file (an *os.File, or a value that wraps one and shows its
// descriptor, as io.Copy's wrapper of an *os.File does), on a unix or
// TCP socket stream or a virtio-console port (on Linux). Otherwise it returns an error wrapping
// ErrNoFileSend. The caller closes the FileSender, which leaves src
// open.
func (s *Stream) SendFile(src syscall.Conn) (*FileSender, error) {
	fs := &FileSender{s: s}
	if err := fs.sys.open(s.rwc, src); err != nil {
		return nil, err
	}
	return fs, nil
}

// Fill loads up to n bytes (at most MaxFill) from the file's current
// offset into the pipe and returns how many it loaded, 0 at the end of
// the file. An error leaves the file's offset and the stream as they
// were. Bytes loaded and not yet sent are sent by the next Send.
func (fs *FileSender) Fill(n int) (int, error) {
	m, err := fs.sys.fill(min(n, fs.MaxFill()-fs.filled))
	fs.filled += m
	return m, err
}

// MaxFill is the most bytes the pipe holds, so the largest payload of
// one Send.
func (fs *FileSender) MaxFill() int { return fs.sys.pipeSize }

// Send writes one frame with f's stream, type and flags and the bytes
// loaded by Fill as payload (f.Payload is ignored). A failure after the
// header went out closes the stream, since the peer would read what
// follows as the rest of the frame.
func (fs *FileSender) Send(f *wire.Frame) error {
	s := fs.s
	var hdr [wire.HeaderSize]byte
	wire.AppendHeader(hdr[:0], f.StreamID, f.Type, f.Flags, fs.filled)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.closed:
		return fmt.Errorf("channel: send %v: %w", f.Type, ErrClosed)
	default:
	}
	err := fs.sys.send(s.rwc, hdr[:], fs.filled)
	fs.filled = 0
	if err != nil {
		_ = s.Close()
		return s.wrap("send", err)
	}
	return nil
}

// Close releases the pipe.
func (fs *FileSender) Close() error { return fs.sys.close() }
