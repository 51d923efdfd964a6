package matchlock

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Service ports of matchlock's guest agent.
const (
	PortExec  = 5000 // every operation, one per connection
	PortVFS   = 5001 // the host's VFS service, dialed by the guest (not served here)
	PortReady = 5002 // accept-and-close readiness check
)

// Message types: the first byte of every frame.
const (
	MsgExec        uint8 = 1
	MsgExecResult  uint8 = 2
	MsgStdout      uint8 = 3
	MsgStderr      uint8 = 4
	MsgSignal      uint8 = 5
	MsgReady       uint8 = 6
	MsgStdin       uint8 = 7
	MsgResize      uint8 = 8
	MsgExecTTY     uint8 = 9
	MsgExit        uint8 = 10
	MsgExecStream  uint8 = 11
	MsgExecPipe    uint8 = 12
	MsgPortForward uint8 = 13
	MsgWriteFile   uint8 = 14
	MsgReadFile    uint8 = 15
	MsgListFiles   uint8 = 16
	MsgFileResult  uint8 = 17
)

// HeaderSize is the size of a frame header: type (1) and big-endian
// payload length (4).
const HeaderSize = 5

// Default caps (see Options and ClientOptions).
const (
	// DefaultMaxMessage caps a frame held in memory: a request, a stdin
	// chunk, an ExecResult, a FileResult without content.
	DefaultMaxMessage = 16 << 20
	// DefaultMaxWriteFile caps a WriteFile frame, which is streamed to
	// disk and never held whole.
	DefaultMaxWriteFile = 1 << 30
	// DefaultMaxExecOutput caps what a buffered Exec collects of stdout
	// and of stderr each; later output is discarded and reported in
	// ExecResponse.Error.
	DefaultMaxExecOutput = 16 << 20
	// chunkSize is the largest Stdout/Stderr payload this package sends.
	chunkSize = 32 << 10
)

// Errors, for errors.Is.
var (
	// ErrFrameTooLarge: a frame's length is above the reader's cap. The
	// payload is not read, so the connection cannot be used further.
	ErrFrameTooLarge = errors.New("matchlock: frame too large")
	// ErrTruncated: the connection ended inside a frame.
	ErrTruncated = errors.New("matchlock: truncated frame")
	// ErrUnexpected: a message of a type the exchange does not allow.
	ErrUnexpected = errors.New("matchlock: unexpected message")
	// ErrBadPayload: a payload that does not decode (JSON, Exit, Resize).
	ErrBadPayload = errors.New("matchlock: malformed payload")
	// ErrRemote: the guest reported a failure (ExecResponse.Error,
	// FileResponse.Error, a port-forward rejection); see *RemoteError.
	ErrRemote = errors.New("matchlock: guest reported an error")
	// ErrStall: a peer did not take a frame within the stall timeout.
	ErrStall = errors.New("matchlock: peer stopped reading")
)

// RemoteError is a failure the guest reported in a reply.
type RemoteError struct {
	Op      string // "exec", "write_file", "read_file", "list_files", "port_forward"
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("matchlock: %s: guest: %s", e.Op, e.Message)
}

// Is makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

// Header is a decoded frame header.
type Header struct {
	Type   uint8
	Length uint32
}

// AppendHeader appends the header of a frame of type t with n payload
// bytes.
func AppendHeader(b []byte, t uint8, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, t), n)
}

// ReadHeader reads a frame header and checks its length against max
// before anything is allocated.
func ReadHeader(r io.Reader, max uint32) (Header, error) {
	var b [HeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Header{}, fmt.Errorf("%w: header: %w", ErrTruncated, err)
		}
		return Header{}, err
	}
	h := Header{Type: b[0], Length: binary.BigEndian.Uint32(b[1:])}
	if h.Length > max {
		return h, fmt.Errorf("%w: type %d, %d bytes, cap %d", ErrFrameTooLarge, h.Type, h.Length, max)
	}
	return h, nil
}

// ReadFrame reads one whole frame whose payload is at most max bytes.
func ReadFrame(r io.Reader, max uint32) (uint8, []byte, error) {
	h, err := ReadHeader(r, max)
	if err != nil {
		return h.Type, nil, err
	}
	p, err := readPayload(r, h)
	return h.Type, p, err
}

func readPayload(r io.Reader, h Header) ([]byte, error) {
	if h.Length == 0 {
		return nil, nil
	}
	// Grow with the bytes that arrive, so a peer announcing a large
	// frame and sending little pins little.
	var buf []byte
	if h.Length <= 64<<10 {
		buf = make([]byte, h.Length)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%w: type %d: %w", ErrTruncated, h.Type, err)
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r, int64(h.Length)))
	if err == nil && len(buf) < int(h.Length) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: type %d: %w", ErrTruncated, h.Type, err)
	}
	return buf, nil
}

// AppendFrame appends a whole frame.
func AppendFrame(b []byte, t uint8, payload []byte) []byte {
	return append(AppendHeader(b, t, uint32(len(payload))), payload...)
}

// frameWriter writes whole frames, one at a time: concurrent senders
// (stdout and stderr pumps, the exit) never interleave their bytes. A
// frame the peer does not take within stall fails with ErrStall and
// closes the connection.
type frameWriter struct {
	mu    sync.Mutex
	conn  net.Conn
	stall time.Duration
	buf   []byte
	err   error
}

func newFrameWriter(c net.Conn, stall time.Duration) *frameWriter {
	return &frameWriter{conn: c, stall: stall}
}

// send writes one frame, splitting Stdout/Stderr payloads larger than
// chunkSize into several frames.
func (w *frameWriter) send(t uint8, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		n := len(p)
		if (t == MsgStdout || t == MsgStderr) && n > chunkSize {
			n = chunkSize
		}
		w.buf = AppendFrame(w.buf[:0], t, p[:n])
		if err := w.writeLocked(w.buf); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
	}
}

// stream writes a frame of type t with n payload bytes produced by fill,
// holding the writer for the whole frame.
func (w *frameWriter) stream(t uint8, n uint32, fill func(io.Writer) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeLocked(AppendHeader(nil, t, n)); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(writerFunc(w.writeLocked), 64<<10)
	cw := &countWriter{w: bw}
	err := fill(cw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && cw.n != int64(n) {
		err = fmt.Errorf("matchlock: frame type %d: %d bytes announced, %d produced", t, n, cw.n)
	}
	if err != nil {
		// The frame cannot be completed: the peer must not read the
		// next bytes as a header.
		w.err = err
		_ = w.conn.Close()
	}
	return err
}

func (w *frameWriter) writeLocked(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.stall > 0 {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.stall))
	}
	_, err := w.conn.Write(b)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w for %v: %w", ErrStall, w.stall, err)
		}
		w.err = err
		_ = w.conn.Close()
	}
	return err
}

type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
