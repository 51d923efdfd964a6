package process

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/guestrpc/guestrpc/rpc"
)

// Client runs processes on an agent (the host side).
type Client struct {
	rc   *rpc.Client
	bufs sync.Pool // *[]byte for copying output
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client {
	cl := &Client{rc: c}
	cl.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	return cl
}

// Run runs spec to completion, copying stdin to the process (nil: no
// stdin) and its output to stdout and stderr (nil: discarded). A process
// that exits non-zero, is killed by a signal or times out returns its
// Result together with an *ExitError; a call that fails returns an
// *rpc.Error (or ctx's error).
func (c *Client) Run(ctx context.Context, spec Spec, stdin io.Reader, stdout, stderr io.Writer) (*Result, error) {
	spec.Events = false // Run needs no id: spare the agent the event
	p, err := c.open(ctx, spec, stdin)
	if err != nil {
		return nil, err
	}
	p.copyLanes(stdout, stderr) // here rather than in goroutines
	return p.Wait()
}

// Process is a process started by Client.Start.
type Process struct {
	ID  uint64 // the agent's id for process.signal, .resize, .kill
	PID int    // the guest pid; 0 for a Go-function process

	c     *Client
	s     *rpc.Stream
	ctx   context.Context
	stop  func() bool // stops watching ctx
	pumps sync.WaitGroup
	once  sync.Once
	res   *Result
	err   error
}

// Start starts spec and returns once the agent has started it. The
// output is copied to stdout and stderr (nil: discarded) until Wait
// returns. If stdin is not nil, Spec.Stdin is set and stdin is copied to
// the process in a goroutine, then half-closed (EOF); as with os/exec, a
// stdin whose Read blocks keeps that goroutine until it returns. ctx
// bounds the whole run: canceling it kills the process group.
func (c *Client) Start(ctx context.Context, spec Spec, stdin io.Reader, stdout, stderr io.Writer) (*Process, error) {
	spec.Events = true
	p, err := c.open(ctx, spec, stdin)
	if err != nil {
		return nil, err
	}
	p.pumps.Add(2)
	go p.copyOut(stdout, p.s.LaneReader(LaneStdout))
	go p.copyOut(stderr, p.s.LaneReader(LaneStderr))
	if err := p.started(); err != nil {
		return nil, err
	}
	return p, nil
}

// open opens the call and starts copying stdin; the caller copies the
// output.
func (c *Client) open(ctx context.Context, spec Spec, stdin io.Reader) (*Process, error) {
	if stdin != nil {
		spec.Stdin = true
	}
	s, stop, err := openStream(ctx, c.rc, methodStart, spec)
	if err != nil {
		return nil, err
	}
	p := &Process{c: c, s: s, ctx: ctx, stop: stop}
	if stdin != nil {
		go func() {
			_, err := io.Copy(s, stdin)
			if err == nil {
				_ = s.CloseWrite()
			}
		}()
	}
	return p, nil
}

// started reads the started event; if the call failed instead it waits
// for the output copies and returns the call's error.
func (p *Process) started() error {
	ev, err := readEvent(p.s, "started")
	if err != nil {
		p.pumps.Wait()
		p.stop()
		if cerr := p.ctx.Err(); cerr != nil {
			return cerr
		}
		return err
	}
	p.ID, p.PID = ev.ID, ev.PID
	return nil
}

// openStream opens a streaming call that ctx cancels until the returned
// func stops the watching.
func openStream(ctx context.Context, rc *rpc.Client, method string, args any) (*rpc.Stream, func() bool, error) {
	s, err := rc.Open(ctx, method, args)
	if err != nil {
		return nil, nil, err
	}
	return s, context.AfterFunc(ctx, func() { s.CloseWithError(ctx.Err()) }), nil
}

// copyOut copies one output lane to w until EOF; if w fails it keeps
// reading into nothing, since all lanes share one flow-control window.
func (p *Process) copyOut(w io.Writer, r io.Reader) {
	defer p.pumps.Done()
	if w == nil {
		w = io.Discard
	}
	bp := p.c.bufs.Get().(*[]byte)
	defer p.c.bufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = io.Discard
			}
		}
		if err != nil {
			return
		}
	}
}

// copyLanes copies stdout and stderr to their writers (nil: discarded)
// on the calling goroutine until the call ends, as copyOut does for one
// lane; DATA on other lanes is dropped.
func (p *Process) copyLanes(stdout, stderr io.Writer) {
	w := [2]io.Writer{stdout, stderr}
	bp := p.c.bufs.Get().(*[]byte)
	defer p.c.bufs.Put(bp)
	buf := *bp
	for {
		n, lane, err := p.s.ReadAny(buf)
		if n > 0 && int(lane) < len(w) && w[lane] != nil {
			if _, werr := w[lane].Write(buf[:n]); werr != nil {
				w[lane] = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// readEvent waits for the first control event on lane 2 and checks its
// type; if the stream ends first it returns the call's error.
func readEvent(s *rpc.Stream, want string) (event, error) {
	var buf [512]byte
	n, err := s.LaneReader(LaneEvents).Read(buf[:])
	if err != nil {
		if werr := s.Wait(nil); werr != nil {
			return event{}, werr
		}
		return event{}, fmt.Errorf("process: the agent ended the call without a %q event: %w", want, err)
	}
	var ev event
	if err := json.Unmarshal(buf[:n], &ev); err != nil {
		s.Close()
		return event{}, fmt.Errorf("process: the agent sent a malformed event %q: %w", buf[:n], err)
	}
	if ev.Type != want {
		s.Close()
		return event{}, fmt.Errorf("process: the agent sent event %q, want %q", ev.Type, want)
	}
	return ev, nil
}

// Wait waits for the process to exit and its output to be copied. Like
// Run, it returns an *ExitError for a non-zero exit, a signal or a
// timeout, with the Result as well.
func (p *Process) Wait() (*Result, error) {
	p.once.Do(func() {
		p.pumps.Wait()
		var raw json.RawMessage
		err := p.s.Wait(&raw)
		var r Result
		if err == nil && len(raw) > 0 {
			err = decodeResult(raw, &r)
		}
		p.stop()
		if err != nil {
			if cerr := p.ctx.Err(); cerr != nil {
				err = cerr
			}
			p.err = err
			return
		}
		p.res, p.err = &r, r.exitErr()
		if p.ID == 0 {
			p.ID, p.PID = r.ID, r.PID
		}
	})
	return p.res, p.err
}

// Signal sends sig to the process group, as Client.Signal does.
func (p *Process) Signal(ctx context.Context, sig string) error { return p.c.Signal(ctx, p.ID, sig) }

// Resize sets the size of the process's terminal.
func (p *Process) Resize(ctx context.Context, rows, cols uint16) error {
	return p.c.rc.Call(ctx, methodResize, resizeRequest{ID: p.ID, Rows: rows, Cols: cols}, nil)
}

// Kill sends SIGKILL to the process group, as Client.Kill does.
func (p *Process) Kill(ctx context.Context) error { return p.c.Kill(ctx, p.ID) }

// Close abandons the call: the agent kills the process group. Wait then
// returns the cancellation.
func (p *Process) Close() error { return p.s.Close() }

// List returns the processes running on the agent.
func (c *Client) List(ctx context.Context) ([]Info, error) {
	var out []Info
	if err := c.rc.Call(ctx, methodList, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Signal sends sig to the process group of the process with id (an ID
// from Process or List). sig is a name, with or without "SIG" ("TERM",
// "SIGINT"), or a Linux signal number ("9"); the guest's numbering
// applies whatever the host runs. A process that is no longer running
// is an *rpc.Error with code NotFound. How the process ended is what its
// Wait (or Run) returns: for a signal it did not catch, an *ExitError
// with Signal set.
func (c *Client) Signal(ctx context.Context, id uint64, sig string) error {
	return c.rc.Call(ctx, methodSignal, signalRequest{ID: id, Signal: sig}, nil)
}

// Kill sends SIGKILL to the process group of the process with id: it is
// Signal(ctx, id, "KILL").
func (c *Client) Kill(ctx context.Context, id uint64) error {
	return c.rc.Call(ctx, methodKill, killRequest{ID: id}, nil)
}
