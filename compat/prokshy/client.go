package prokshy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Host-side errors.
var (
	ErrBadName = errors.New("prokshy: invalid command name")
	ErrBadArg  = errors.New("prokshy: argument holds a line break")
)

// Conn is the host's end of the port: the hypervisor's unix socket (a
// net.Conn), or a terminal or pipe (*os.File) with deadlines.
type Conn interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
}

// RunOptions tune Run.
type RunOptions struct {
	// Idle ends the reply after this long without a byte, as cli.py's
	// timeout does, since nothing else marks its end (default 1s).
	Idle time.Duration
	// First is how long to wait for the reply's first byte, for commands
	// slow to start (default Idle). A command that prints nothing costs
	// this long.
	First time.Duration
}

// Run sends command cmd with argument arg as cli.py does ("CMD\nARG\n")
// and copies the reply to w until the port has been quiet for Idle, or
// reads EOF. A tty echo of "CMD\r\nARG\r\n" at the start of the reply is
// dropped, as cli.py drops it. It returns the bytes written to w.
func Run(ctx context.Context, c Conn, cmd, arg string, w io.Writer, opts RunOptions) (int64, error) {
	if !ValidName(cmd) {
		return 0, fmt.Errorf("%w: %q", ErrBadName, cmd)
	}
	if strings.ContainsAny(arg, "\r\n") {
		return 0, fmt.Errorf("%w: cli.py would send only its first line", ErrBadArg)
	}
	if opts.Idle <= 0 {
		opts.Idle = time.Second
	}
	if opts.First <= 0 {
		opts.First = opts.Idle
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		_ = c.SetReadDeadline(time.Time{}) // the port is the caller's again
	}()
	if _, err := io.WriteString(c, cmd+"\n"+arg+"\n"); err != nil {
		return 0, fmt.Errorf("prokshy: send: %w", err)
	}
	ew := &echoSkipper{w: w, echo: []byte(cmd + "\r\n" + arg + "\r\n")}
	buf := make([]byte, 32<<10)
	for {
		wait := opts.Idle
		if len(ew.held) == 0 && !ew.done {
			wait = opts.First
		}
		if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil && ctx.Err() == nil {
			return ew.n, fmt.Errorf("prokshy: %w", err)
		}
		n, err := c.Read(buf)
		if n > 0 {
			if werr := ew.write(buf[:n]); werr != nil {
				return ew.n, werr
			}
		}
		switch {
		case ctx.Err() != nil:
			return ew.n, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, io.EOF):
			return ew.n, ew.flush()
		case err != nil:
			return ew.n, fmt.Errorf("prokshy: read: %w", err)
		}
	}
}

// echoSkipper holds the reply's first bytes while they could still be
// the tty's echo of the request, and drops them if they are.
type echoSkipper struct {
	w    io.Writer
	echo []byte
	held []byte
	done bool
	n    int64
}

func (e *echoSkipper) write(p []byte) error {
	if !e.done {
		e.held = append(e.held, p...)
		k := min(len(e.held), len(e.echo))
		if bytes.Equal(e.held[:k], e.echo[:k]) && len(e.held) < len(e.echo) {
			return nil
		}
		held := e.held
		if bytes.Equal(held[:k], e.echo[:k]) {
			held = held[len(e.echo):]
		}
		e.done, e.held = true, nil
		return e.out(held)
	}
	return e.out(p)
}

func (e *echoSkipper) flush() error {
	if e.done {
		return nil
	}
	held := e.held
	e.done, e.held = true, nil
	return e.out(held)
}

func (e *echoSkipper) out(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := e.w.Write(p)
	e.n += int64(n)
	if err != nil {
		return fmt.Errorf("prokshy: writing the reply: %w", err)
	}
	return nil
}
