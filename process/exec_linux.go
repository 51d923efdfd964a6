package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/rpc"
)

// procSys is the Linux part of a proc.
type procSys struct {
	pty *os.File // the terminal's master side, for resize; nil without TTY
}

func (s *Service) runExec(ctx context.Context, call *rpc.Request, spec *Spec) (any, error) {
	l, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	st, err := openStdio(spec, s.sys.devNull)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeOf(err), "%s: %w", methodStart, err)
	}
	defer st.closeOurs()
	p, pidfd, err := s.forkExec(l, spec, st)
	if err != nil {
		return nil, err
	}
	defer s.unregister(p)
	s.log.Debug("process: started", "id", p.id, "pid", p.pid, "path", l.path)
	if spec.Events {
		ctx = announce(ctx, call, event{Type: "started", ID: p.id, PID: p.pid})
	}
	if st.stdin != nil {
		go s.feed(st.stdin, call, !spec.TTY)
	}
	var w waited
	var cause error
	if pidfd >= 0 && !spec.TTY {
		w = s.waitShort(ctx, call, p, pidfd, st)
	}
	if w.exited {
		syscall.Close(pidfd)
	} else {
		w, cause = s.waitLong(ctx, call, p, pidfd, st, !spec.TTY)
	}
	es := w.status
	res := &Result{ID: p.id, PID: p.pid, ExitCode: es.code, Started: p.started, Ended: w.ended}
	if es.signal != 0 {
		res.Signal = signalName(es.signal)
	}
	s.log.Debug("process: exited", "id", p.id, "pid", p.pid, "code", res.ExitCode, "signal", res.Signal)
	switch {
	case es.err != nil:
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s: %w", methodStart, l.path, es.err)
	case errors.Is(cause, errTimeout):
		res.TimedOut = true
	case cause != nil:
		return nil, rpc.Errorf(rpc.Canceled, "%s: %s: %w", methodStart, l.path, cause)
	}
	return res, nil
}

// forkExec starts the process of l with st's descriptors and registers
// it; pidfd is its pidfd, or -1 without one.
func (s *Service) forkExec(l *launch, spec *Spec, st *stdio) (p *proc, pidfd int, err error) {
	files := []uintptr{uintptr(st.child[0]), uintptr(st.child[1]), uintptr(st.child[2])}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: l.env, Files: files, Sys: &syscall.SysProcAttr{
		Setpgid: !spec.TTY, Setsid: spec.TTY, Setctty: spec.TTY, Credential: l.cred,
	}}
	p = &proc{spec: spec, status: make(chan exitStatus, 1), sys: procSys{pty: st.pty}}
	pidfd = -1
	if s.sys.pidfds {
		attr.Sys.PidFD = &pidfd
	}
	s.forkMu.Lock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.forkMu.Unlock()
		st.closeChild()
		return nil, -1, rpc.Errorf(rpc.Unavailable, "%s: %w", methodStart, errClosed)
	}
	pid, err := syscall.ForkExec(l.path, l.argv, attr)
	if err == nil {
		p.pid = pid
		s.mu.Lock()
		s.registerLocked(p)
		s.mu.Unlock()
	}
	s.forkMu.Unlock()
	st.closeChild()
	switch {
	case err == nil:
		return p, pidfd, nil
	case spec.Dir != "":
		return nil, -1, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q in dir %q: %w", methodStart, l.path, spec.Dir, err)
	default:
		return nil, -1, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q: %w", methodStart, l.path, err)
	}
}

// waitLong waits for a process through the netpoller: a pump goroutine
// per output still open, the pidfd (or SIGCHLD) for the exit, then up to
// OutputGrace for the pumps. It takes over pidfd (-1: none). pipes says
// the outputs are pipes, which the pumps close at EOF.
func (s *Service) waitLong(ctx context.Context, call *rpc.Request, p *proc, pidfd int, st *stdio, pipes bool) (waited, error) {
	s.sys.longWaits.Add(1)
	st.wrapOuts()
	pf := pidfdFile(pidfd)
	if pf != nil {
		defer pf.Close()
	} else {
		s.needSIGCHLD()
	}
	done := make(chan struct{}, len(st.outs))
	for i, f := range st.outs {
		go s.pump(call.LaneWriter(st.lanes[i]), f, pipes, done)
	}
	es, cause := s.awaitExit(ctx, p, pf)
	w := waited{exited: true, status: es, ended: time.Now()}
	s.drain(st.outs, done)
	return w, cause
}

// awaitExit waits for p's status. With a pidfd it learns of the exit
// itself and reaps p (see exited), else the wait loop hands the status
// over; if ctx ends first it kills the process group and waits for that.
func (s *Service) awaitExit(ctx context.Context, p *proc, pf *os.File) (exitStatus, error) {
	if pf != nil {
		if waitReadable(ctx, pf) {
			s.exited(p.pid)
		} else if ctx.Err() == nil {
			s.needSIGCHLD() // the pidfd cannot be polled after all
			pf = nil
		}
	}
	// A ctx that had ended before the call began to wait (announce's)
	// wins over a status that is already there.
	if ctx.Err() == nil {
		select {
		case es := <-p.status:
			return es, nil
		case <-ctx.Done():
		}
	}
	cause := context.Cause(ctx)
	s.mu.Lock()
	_ = s.signalLocked(p, int(syscall.SIGKILL))
	s.mu.Unlock()
	if pf != nil && waitReadable(context.Background(), pf) {
		s.exited(p.pid)
	} else {
		s.needSIGCHLD()
	}
	return <-p.status, cause
}

// announce sends the "started" event of a forked child. As in runFunc, a
// caller that cannot learn the id makes the start fail; the child is
// already running, so announce returns an ended context instead, whose
// cause awaitExit sees: it kills and reaps the child, and runExec returns
// the cause.
func announce(ctx context.Context, call *rpc.Request, ev event) context.Context {
	err := sendEvent(call, ev)
	if err == nil {
		return ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	cancel(fmt.Errorf("sending the started event: %w", err))
	return ctx
}

// pidfdFile wraps a child's pidfd as a pollable file, or returns nil.
func pidfdFile(pidfd int) *os.File {
	if pidfd < 0 {
		return nil
	}
	if err := syscall.SetNonblock(pidfd, true); err != nil {
		syscall.Close(pidfd)
		return nil
	}
	return os.NewFile(uintptr(pidfd), "pidfd")
}

// waitReadable waits through the netpoller until the pidfd f is
// readable, which it becomes when the process exits. It reports false if
// ctx ended first or f cannot be polled. It only learns of the exit; the
// wait loop still does every wait4.
func waitReadable(ctx context.Context, f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	ready := false
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		ready = n > 0
		return ready
	})
	return err == nil && ready
}

// drain waits for the output pumps to reach EOF, for at most
// OutputGrace; then it makes them read what is left and stop.
func (s *Service) drain(outs []*os.File, done <-chan struct{}) {
	timer := time.NewTimer(OutputGrace)
	defer timer.Stop()
	for n := len(outs); n > 0; {
		select {
		case <-done:
			n--
		case <-timer.C:
			for _, f := range outs {
				_ = f.SetReadDeadline(time.Now())
			}
		}
	}
}

// pump copies f to dst until EOF, an error, or the read deadline drain
// sets; after the deadline it still sends what f holds right now. When
// dst fails (the host is gone) it keeps reading into nothing so the
// process never blocks on a full pipe. With closeAfter it closes f when
// done (a pipe's read end; the terminal stays open for resize).
func (s *Service) pump(dst io.Writer, f *os.File, closeAfter bool, done chan<- struct{}) {
	defer func() {
		if closeAfter {
			f.Close()
		}
		done <- struct{}{}
	}()
	bp := s.pool.Get().(*[]byte)
	defer s.pool.Put(bp)
	buf := *bp
	for {
		n, err := readGather(f, buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				dst = io.Discard
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				drainNow(f, dst, buf)
			}
			return // io.EOF, or EIO from a terminal nobody holds any more
		}
	}
}

// drainNow sends what f holds without waiting, at most 64 buffers.
func drainNow(f *os.File, dst io.Writer, buf []byte) {
	for range 64 {
		var n int
		err := control(f, func(fd int) (err error) {
			n, err = syscall.Read(fd, buf)
			return err
		})
		if err != nil || n <= 0 {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// feed copies lane 0 of the call to w; at EOF it closes w if closeOnEOF.
// It ends at the latest when the call does.
func (s *Service) feed(w *os.File, call *rpc.Request, closeOnEOF bool) {
	bp := s.pool.Get().(*[]byte)
	defer s.pool.Put(bp)
	buf := *bp
	for {
		n, err := call.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF && closeOnEOF {
				w.Close()
			}
			return
		}
	}
}

// resizeID sets the terminal size of the process with id.
func (s *Service) resizeID(req resizeRequest) error {
	if req.Rows == 0 || req.Cols == 0 {
		return rpc.Errorf(rpc.InvalidArgument, "%s: size %dx%d: rows and cols must be positive", methodResize, req.Rows, req.Cols)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[req.ID]
	switch {
	case p == nil:
		return rpc.Errorf(rpc.NotFound, "%s: no running process with id %d", methodResize, req.ID)
	case p.sys.pty == nil:
		return rpc.Errorf(rpc.FailedPrecondition, "%s: process %d has no terminal (start it with tty)", methodResize, req.ID)
	}
	err := control(p.sys.pty, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: req.Rows, Col: req.Cols})
	})
	if err != nil {
		return rpc.Errorf(rpc.Internal, "%s: process %d: TIOCSWINSZ: %w", methodResize, req.ID, err)
	}
	return nil
}

// readGather waits for f to have data, then takes whatever else is
// already there, up to len(buf), without waiting again: a program
// writing in 4 KiB pieces then costs one DATA frame per buffer rather
// than one per piece. An end of file or error seen while gathering is
// left for the next call to report.
func readGather(f *os.File, buf []byte) (int, error) {
	n, err := f.Read(buf)
	if err != nil || n == 0 || n == len(buf) {
		return n, err
	}
	raw, rerr := f.SyscallConn()
	if rerr != nil {
		return n, nil
	}
	_ = raw.Read(func(fd uintptr) bool {
		for n < len(buf) {
			m, e := syscall.Read(int(fd), buf[n:])
			if m <= 0 || e != nil {
				break
			}
			n += m
		}
		return true
	})
	return n, nil
}
