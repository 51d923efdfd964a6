package prokshy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// errTimeout: the argument line did not arrive within ArgTimeout.
var errTimeout = errors.New("prokshy: argument line timed out")

// errLineTooLong: a line longer than MaxLine, dropped.
var errLineTooLong = errors.New("prokshy: line too long")

type chunk struct {
	b   []byte
	err error
}

// pump reads the port in its own goroutine, so that the lines can be read
// with a timeout (main.sh's read -t) from any reader, a character device
// included. It holds at most one chunk at a time.
type pump struct {
	port      io.Reader
	reconnect bool
	ch        chan chunk
}

func (p *pump) run(ctx context.Context) {
	defer close(p.ch)
	buf := make([]byte, 32<<10)
	backoff := 10 * time.Millisecond
	for {
		n, err := p.port.Read(buf)
		if n > 0 {
			backoff = 10 * time.Millisecond
			if !p.send(ctx, chunk{b: bytes.Clone(buf[:n])}) {
				return
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF) && p.reconnect && ctx.Err() == nil:
			// A virtio port reads EOF while no host is connected: say so
			// (it ends a native session) and wait for the next host.
			if n == 0 && !p.send(ctx, chunk{err: io.EOF}) {
				return
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 250*time.Millisecond)
		default:
			p.send(ctx, chunk{err: err})
			return
		}
	}
}

func (p *pump) send(ctx context.Context, c chunk) bool {
	select {
	case p.ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// lineReader reads lines from a pump.
type lineReader struct {
	p          *pump
	buf        []byte
	max        int
	discarding bool // dropping the rest of a line
}

// more waits for the next chunk; expired (nil: never) ends the wait.
func (r *lineReader) more(ctx context.Context, expired <-chan time.Time) error {
	select {
	case c, ok := <-r.p.ch:
		if !ok {
			return io.EOF
		}
		if c.err != nil {
			return c.err
		}
		r.buf = append(r.buf, c.b...)
		return nil
	case <-expired:
		return errTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// line returns the next line without its newline. A line past max is
// dropped through its newline and reported as errLineTooLong.
func (r *lineReader) line(ctx context.Context, expired <-chan time.Time) ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := bytes.Clone(r.buf[:i])
			r.buf = append(r.buf[:0], r.buf[i+1:]...)
			if r.discarding || len(line) > r.max {
				r.discarding = false
				return nil, errLineTooLong
			}
			return line, nil
		}
		if len(r.buf) > r.max {
			r.discarding = true
			r.buf = r.buf[:0]
		}
		if err := r.more(ctx, expired); err != nil {
			return nil, err
		}
	}
}

// skipLine drops the rest of the current line (after an argument timed
// out), so that its late bytes are never read as a command.
func (r *lineReader) skipLine() {
	r.discarding = true
	r.buf = r.buf[:0]
}
