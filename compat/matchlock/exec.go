package matchlock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/guestrpc/guestrpc/process"
)

// specOf maps an ExecRequest to a process.Spec. As in matchlock's agent
// the command is a shell command line (sh -c) and Args are not used.
func specOf(req *ExecRequest) process.Spec {
	return process.Spec{Shell: req.Command, Dir: req.WorkingDir, Env: envOf(req.Env), User: req.User}
}

func ttySpecOf(req *ExecTTYRequest) process.Spec {
	return process.Spec{
		Shell: req.Command, Dir: req.WorkingDir, Env: envOf(req.Env), User: req.User,
		TTY: true, Rows: req.Rows, Cols: req.Cols,
	}
}

func envOf(m map[string]string) []string {
	env := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		env = append(env, k+"="+m[k])
	}
	return env
}

// outcome is the exit code and error text an ExecResult or Exit reports:
// the exit status, -1 for a process a signal killed (as Go's
// ProcessState.ExitCode, which matchlock's agent sends), or 1 with the
// error for a call that failed.
func outcome(res *process.Result, err error) (int, string) {
	if res != nil {
		return res.ExitCode, ""
	}
	if err == nil {
		return 0, ""
	}
	return 1, err.Error()
}

// execBatch serves Exec (output collected into the ExecResult) and
// ExecStream (Stdout and Stderr frames as output arrives, then an
// ExecResult with the exit code).
func (cc *conn) execBatch(ctx context.Context, t uint8, req *ExecRequest) error {
	var stdin io.Reader
	if req.Stdin != nil {
		stdin = bytes.NewReader(req.Stdin)
	}
	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	var out, errOut *capBuffer
	var stdout, stderr io.Writer = frameSink{cc.w, MsgStdout, kill}, frameSink{cc.w, MsgStderr, kill}
	if t == MsgExec {
		out, errOut = &capBuffer{max: cc.srv.opts.MaxExecOutput}, &capBuffer{max: cc.srv.opts.MaxExecOutput}
		stdout, stderr = out, errOut
	}
	p, err := process.NewClient(cc.rpc.Client).Start(runCtx, specOf(req), stdin, stdout, stderr)
	if err != nil {
		cc.fail(t, err)
		return err
	}
	finished := make(chan struct{})
	cc.wg.Go(func() {
		var b [1]byte
		_, _ = cc.br.Read(b[:]) // the host sends nothing more: any return is its hang-up
		cc.hangUp(runCtx, p, kill, finished)
	})
	res, err := p.Wait()
	close(finished)
	resp := ExecResponse{}
	resp.ExitCode, resp.Error = outcome(res, err)
	if t == MsgExec {
		resp.Stdout, resp.Stderr = out.buf.Bytes(), errOut.buf.Bytes()
		if msg := truncated(out, errOut); msg != "" {
			resp.Error = join(resp.Error, msg)
		}
	}
	cc.sendJSON(MsgExecResult, resp)
	return nil
}

// hangUp ends a command whose host went away, as matchlock's agent:
// SIGTERM to its process group, SIGKILL after TermGrace. It returns at
// once when the command has already finished.
func (cc *conn) hangUp(ctx context.Context, p *process.Process, kill context.CancelFunc, finished <-chan struct{}) {
	select {
	case <-finished:
		return
	default:
	}
	_ = p.Signal(ctx, "TERM")
	t := time.NewTimer(cc.srv.opts.TermGrace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		kill()
	}
}

// execInteractive serves ExecPipe and ExecTTY: Stdin, Signal and (TTY)
// Resize frames from the host while output goes out as Stdout (and, for
// a pipe, Stderr) frames; Exit carries the code.
func (cc *conn) execInteractive(ctx context.Context, t uint8, spec process.Spec) error {
	pr, pw := io.Pipe()
	defer pw.Close()
	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	var stderr io.Writer
	if t == MsgExecPipe {
		stderr = frameSink{cc.w, MsgStderr, kill}
	}
	p, err := process.NewClient(cc.rpc.Client).Start(runCtx, spec, pr, frameSink{cc.w, MsgStdout, kill}, stderr)
	if err != nil {
		cc.fail(t, err)
		return err
	}
	finished := make(chan struct{})
	cc.wg.Go(func() { cc.control(runCtx, t == MsgExecTTY, p, pw, kill, finished) })
	res, err := p.Wait()
	close(finished)
	_ = pw.Close()
	code, msg := outcome(res, err)
	if msg != "" {
		_ = cc.w.send(MsgStderr, []byte(msg+"\n"))
	}
	if err := cc.w.send(MsgExit, EncodeExit(code)); err != nil {
		return err
	}
	cc.closeWrite()
	return nil
}

// control reads the host's frames during ExecPipe and ExecTTY. Types
// the exchange does not use are ignored, as matchlock's agent does.
func (cc *conn) control(ctx context.Context, tty bool, p *process.Process, stdin *io.PipeWriter, kill context.CancelFunc, finished <-chan struct{}) {
	for {
		t, data, err := ReadFrame(cc.br, cc.srv.opts.MaxMessage)
		if err != nil {
			_ = stdin.Close()
			cc.hangUp(ctx, p, kill, finished)
			return
		}
		switch t {
		case MsgStdin:
			if len(data) == 0 && !tty {
				_ = stdin.Close() // an empty Stdin is EOF
				continue
			}
			_, _ = stdin.Write(data)
		case MsgSignal:
			if sig, err := DecodeSignal(data); err == nil {
				_ = p.Signal(ctx, strconv.Itoa(int(sig)))
			}
		case MsgResize:
			if ws, err := DecodeResize(data); err == nil && tty {
				_ = p.Resize(ctx, ws.Rows, ws.Cols)
			}
		}
	}
}

func (cc *conn) closeWrite() {
	if cw, ok := cc.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// frameSink sends what is written as frames of one type; when the host
// cannot take them it kills the command.
type frameSink struct {
	w    *frameWriter
	t    uint8
	kill context.CancelFunc
}

func (f frameSink) Write(p []byte) (int, error) {
	if err := f.w.send(f.t, p); err != nil {
		f.kill()
		return 0, err
	}
	return len(p), nil
}

// capBuffer keeps at most max bytes and counts the rest.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (b *capBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), max(b.max-b.buf.Len(), 0))
	b.buf.Write(p[:keep])
	b.dropped += int64(len(p) - keep)
	return len(p), nil
}

func truncated(out, errOut *capBuffer) string {
	var msg string
	if out.dropped > 0 {
		msg = fmt.Sprintf("stdout truncated: %d bytes past the %d-byte cap discarded", out.dropped, out.max)
	}
	if errOut.dropped > 0 {
		msg = join(msg, fmt.Sprintf("stderr truncated: %d bytes past the %d-byte cap discarded", errOut.dropped, errOut.max))
	}
	return msg
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
