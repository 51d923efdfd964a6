package matchlock

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
)

// Session is a running ExecPipe or ExecTTY command.
type Session struct {
	conn net.Conn
	w    *frameWriter
	stop func() bool
	done chan struct{}
	code int
	err  error
	once sync.Once
}

// ExecPipe starts req.Command with its stdin, stdout and stderr piped:
// Write sends stdin, CloseStdin sends EOF, output is copied to stdout and
// stderr (nil: discarded). Canceling ctx closes the connection, which
// makes the guest terminate the command.
func (c *Client) ExecPipe(ctx context.Context, req ExecRequest, stdout, stderr io.Writer) (*Session, error) {
	return c.startSession(ctx, MsgExecPipe, req, stdout, stderr)
}

// ExecTTY starts req.Command on a terminal of req.Rows x req.Cols:
// Write sends keystrokes, Resize and Signal act on the terminal and the
// process, and what the terminal prints is copied to stdout.
func (c *Client) ExecTTY(ctx context.Context, req ExecTTYRequest, stdout io.Writer) (*Session, error) {
	return c.startSession(ctx, MsgExecTTY, req, stdout, nil)
}

func (c *Client) startSession(ctx context.Context, t uint8, req any, stdout, stderr io.Writer) (*Session, error) {
	p, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("matchlock: %s: %w", typeName(t), err)
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("matchlock: dial: %w", err)
	}
	s := &Session{conn: conn, w: newFrameWriter(conn, 0), done: make(chan struct{})}
	s.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	if err := s.w.send(t, p); err != nil {
		s.stop()
		_ = conn.Close()
		return nil, fmt.Errorf("matchlock: %s: %w", typeName(t), err)
	}
	go s.read(ctx, c.opts.MaxMessage, stdout, stderr)
	return s, nil
}

func (s *Session) read(ctx context.Context, max uint32, stdout, stderr io.Writer) {
	defer close(s.done)
	r := bufio.NewReader(s.conn)
	for {
		t, p, err := ReadFrame(r, max)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			s.err = fmt.Errorf("matchlock: session ended before Exit: %w", err)
			return
		}
		switch t {
		case MsgStdout, MsgStderr:
			if err := copyOut(t, p, stdout, stderr); err != nil {
				s.err = err
				return
			}
		case MsgExit:
			s.code, s.err = DecodeExit(p)
			return
		default:
			s.err = fmt.Errorf("%w: %s during a session", ErrUnexpected, typeName(t))
			return
		}
	}
}

// Write sends p as stdin (empty p sends nothing).
func (s *Session) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.w.send(MsgStdin, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseStdin sends EOF (an empty Stdin message) for ExecPipe.
func (s *Session) CloseStdin() error { return s.w.send(MsgStdin, nil) }

// Signal sends signal number sig to the command.
func (s *Session) Signal(sig uint8) error { return s.w.send(MsgSignal, EncodeSignal(sig)) }

// Resize sets the terminal size of an ExecTTY command.
func (s *Session) Resize(ws WindowSize) error { return s.w.send(MsgResize, EncodeResize(ws)) }

// Wait waits for Exit and returns the exit code (-1: killed by a signal).
func (s *Session) Wait() (int, error) {
	<-s.done
	s.Close()
	return s.code, s.err
}

// Close abandons the session: the guest terminates the command.
func (s *Session) Close() error {
	s.once.Do(func() {
		s.stop()
		_ = s.conn.Close()
	})
	return nil
}

var _ io.Writer = (*Session)(nil)
