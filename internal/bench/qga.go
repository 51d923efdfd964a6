package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// MaxQGALine caps one reply line from qemu-ga: a 1 MiB chunk in base64
// is 1.4 MB, and qemu-ga reads at most 48 MiB per guest-file-read.
const MaxQGALine = 8 << 20

// Errors a QGA call can return besides *QGAError and I/O errors.
var (
	ErrQGALineTooLong = errors.New("qga: reply line over the limit")
	ErrQGAReply       = errors.New("qga: malformed reply")
)

// QGAError is an {"error": {...}} reply.
type QGAError struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *QGAError) Error() string {
	return fmt.Sprintf("qga: %s: %s: %s", e.Command, e.Class, e.Desc)
}

// QGA is a client for QEMU's guest agent JSON protocol (one request and
// one reply per line) over a connection such as the one qemu-ga's
// -m unix-listen socket offers. It is not safe for concurrent use.
type QGA struct {
	conn    net.Conn
	r       *bufio.Reader
	line    []byte
	maxLine int
}

// NewQGA returns a client over conn; replies longer than maxLine bytes
// are refused (0 means MaxQGALine).
func NewQGA(conn net.Conn, maxLine int) *QGA {
	if maxLine <= 0 {
		maxLine = MaxQGALine
	}
	return &QGA{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), maxLine: maxLine}
}

// Close closes the connection.
func (q *QGA) Close() error { return q.conn.Close() }

type qgaRequest struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
}

// marshalRequest encodes one request line (without its newline); a
// fileWrite is appended as it is, not run through encoding/json's
// validation of a megabyte of base64.
func marshalRequest(command string, args any) ([]byte, error) {
	w, ok := args.(fileWrite)
	if !ok {
		return json.Marshal(qgaRequest{Execute: command, Arguments: args})
	}
	head, err := json.Marshal(qgaRequest{Execute: command})
	if err != nil {
		return nil, err
	}
	body, _ := w.MarshalJSON()
	out := append(head[:len(head)-1], `,"arguments":`...)
	out = append(out, body...)
	return append(out, '}'), nil
}

type qgaReply struct {
	Return json.RawMessage `json:"return"`
	Error  *QGAError       `json:"error"`
}

// Call runs command with args (nil for none) and decodes the reply's
// "return" member into result (unless nil). ctx bounds the exchange.
func (q *QGA) Call(ctx context.Context, command string, args, result any) error {
	req, err := marshalRequest(command, args)
	if err != nil {
		return fmt.Errorf("qga: %s: %w", command, err)
	}
	stop := q.watch(ctx)
	defer stop()
	if _, err := q.conn.Write(append(req, '\n')); err != nil {
		return q.ctxErr(ctx, fmt.Errorf("qga: %s: %w", command, err))
	}
	line, err := q.readLine()
	if err != nil {
		return q.ctxErr(ctx, fmt.Errorf("qga: %s: %w", command, err))
	}
	return DecodeQGAReply(command, line, result)
}

// DecodeQGAReply decodes one reply line to command into result.
func DecodeQGAReply(command string, line []byte, result any) error {
	var rep qgaReply
	if err := json.Unmarshal(line, &rep); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrQGAReply, command, err)
	}
	if rep.Error != nil {
		rep.Error.Command = command
		return rep.Error
	}
	if rep.Return == nil {
		return fmt.Errorf("%w to %s: neither return nor error in %.80q", ErrQGAReply, command, line)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(rep.Return, result); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrQGAReply, command, err)
	}
	return nil
}

// readLine reads one line (without its newline) of at most maxLine
// bytes; the slice is valid until the next call.
func (q *QGA) readLine() ([]byte, error) {
	q.line = q.line[:0]
	for {
		frag, err := q.r.ReadSlice('\n')
		if len(q.line)+len(frag) > q.maxLine+1 {
			return nil, fmt.Errorf("%w (%d bytes)", ErrQGALineTooLong, q.maxLine)
		}
		q.line = append(q.line, frag...)
		switch {
		case err == nil:
			return bytes.TrimRight(q.line, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(q.line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// watch makes ctx's deadline and cancellation interrupt the connection.
func (q *QGA) watch(ctx context.Context) func() {
	if d, ok := ctx.Deadline(); ok {
		_ = q.conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = q.conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = q.conn.SetDeadline(time.Time{})
	}
}

func (q *QGA) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// Sync sends guest-sync with id and checks the echo, discarding any
// stale reply a previous client left behind.
func (q *QGA) Sync(ctx context.Context, id int64) error {
	var got int64
	if err := q.Call(ctx, "guest-sync", map[string]int64{"id": id}, &got); err != nil {
		return err
	}
	if got != id {
		return fmt.Errorf("%w: guest-sync %d answered %d", ErrQGAReply, id, got)
	}
	return nil
}

// Ping sends guest-ping.
func (q *QGA) Ping(ctx context.Context) error { return q.Call(ctx, "guest-ping", nil, nil) }
