package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/rpc"
)

// procSys is the Linux part of a proc.
type procSys struct {
	pty *os.File // the terminal's master side, for resize; nil without TTY
}

// stdio holds the files of one process.
type stdio struct {
	child [3]int     // the child's 0, 1, 2
	own   []int      // descriptors of child that are ours to close once it started
	outs  []*os.File // our read ends (stdout, stderr) or the pty master
	lanes []rpc.Lane // the lane each of outs is sent on
	stdin *os.File   // where lane 0 goes: the pipe's write end or the master
	pty   *os.File
}

func (s *stdio) closeChild() {
	for _, fd := range s.own {
		syscall.Close(fd)
	}
	s.own = nil
}

func (s *stdio) closeOurs() {
	for _, f := range s.outs {
		f.Close()
	}
	if s.stdin != nil {
		s.stdin.Close()
	}
}

// pipe returns a pipe whose end ours (0: read, 1: write) is a pollable
// *os.File and whose other end is a blocking descriptor for the child.
func pipe(ours int) (*os.File, int, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, -1, fmt.Errorf("pipe2: %w", err)
	}
	if err := syscall.SetNonblock(p[ours], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, -1, fmt.Errorf("pipe: O_NONBLOCK: %w", err)
	}
	return os.NewFile(uintptr(p[ours]), "|"+strconv.Itoa(p[ours])), p[1-ours], nil
}

// openStdio makes the descriptors of a process; devNull is /dev/null.
func openStdio(spec *Spec, devNull int) (st *stdio, err error) {
	st = &stdio{}
	defer func() {
		if err != nil {
			st.closeChild()
			st.closeOurs()
		}
	}()
	if spec.TTY {
		rows, cols := spec.Rows, spec.Cols
		if rows == 0 {
			rows = 24
		}
		if cols == 0 {
			cols = 80
		}
		master, slave, err := openPTY(rows, cols)
		if err != nil {
			return st, err
		}
		st.outs, st.lanes, st.pty = []*os.File{master}, []rpc.Lane{LaneStdout}, master
		st.child, st.own = [3]int{slave, slave, slave}, []int{slave}
		if spec.Stdin {
			st.stdin = master
		}
		return st, nil
	}
	st.child[0] = devNull
	if spec.Stdin {
		w, r, err := pipe(1)
		if err != nil {
			return st, fmt.Errorf("stdin %w", err)
		}
		st.stdin, st.child[0], st.own = w, r, append(st.own, r)
	}
	for i, lane := range []rpc.Lane{LaneStdout, LaneStderr} {
		r, w, err := pipe(0)
		if err != nil {
			return st, fmt.Errorf("output %w", err)
		}
		st.child[1+i], st.own = w, append(st.own, w)
		st.outs, st.lanes = append(st.outs, r), append(st.lanes, lane)
	}
	return st, nil
}

// openPTY opens a new pseudo-terminal of rows x cols: the master as a
// pollable file, the slave as a descriptor for the child.
func openPTY(rows, cols uint16) (master *os.File, slave int, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	var n int
	err = control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlockpt: %w", err)
		}
		var err error
		if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err != nil {
			return fmt.Errorf("ptsname: %w", err)
		}
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	if err == nil {
		slave, err = syscall.Open("/dev/pts/"+strconv.Itoa(n), syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		master.Close()
		return nil, -1, fmt.Errorf("opening the terminal's slave: %w", err)
	}
	return master, slave, nil
}

// control runs fn on f's descriptor without making it blocking.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (m *Manager) runExec(ctx context.Context, call *rpc.Request, spec *Spec) (any, error) {
	l, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	st, err := openStdio(spec, m.sys.devNull)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeOf(err), "%s: %w", MethodStart, err)
	}
	defer st.closeOurs()
	files := []uintptr{uintptr(st.child[0]), uintptr(st.child[1]), uintptr(st.child[2])}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: l.env, Files: files, Sys: &syscall.SysProcAttr{
		Setpgid: !spec.TTY, Setsid: spec.TTY, Setctty: spec.TTY, Credential: l.cred,
	}}
	p := &proc{spec: spec, status: make(chan exitStatus, 1), sys: procSys{pty: st.pty}}
	pidfd := -1
	if m.sys.pidfds {
		attr.Sys.PidFD = &pidfd
	}
	m.forkMu.Lock()
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		m.forkMu.Unlock()
		st.closeChild()
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %w", MethodStart, errClosed)
	}
	pid, err := syscall.ForkExec(l.path, l.argv, attr)
	if err == nil {
		p.pid = pid
		m.mu.Lock()
		m.registerLocked(p)
		m.mu.Unlock()
	}
	m.forkMu.Unlock()
	st.closeChild()
	if err != nil {
		if spec.Dir != "" {
			return nil, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q in dir %q: %w", MethodStart, l.path, spec.Dir, err)
		}
		return nil, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q: %w", MethodStart, l.path, err)
	}
	defer m.unregister(p)
	pf := pidfdFile(pidfd)
	if pf != nil {
		defer pf.Close()
	} else {
		m.needSIGCHLD()
	}
	m.log.Debug("process: started", "id", p.id, "pid", pid, "path", l.path)
	if spec.Events {
		ctx = announce(ctx, call, Event{Type: "started", ID: p.id, PID: pid})
	}

	done := make(chan struct{}, len(st.outs))
	for i, f := range st.outs {
		go m.pump(call.LaneWriter(st.lanes[i]), f, !spec.TTY, done)
	}
	if st.stdin != nil {
		go m.feed(st.stdin, call, !spec.TTY)
	}

	es, cause := m.awaitExit(ctx, p, pf)
	res := &Result{ID: p.id, PID: pid, ExitCode: es.code, Started: p.started, Ended: time.Now()}
	if es.signal != 0 {
		res.Signal = signalName(es.signal)
	}
	m.drain(st.outs, done)
	m.log.Debug("process: exited", "id", p.id, "pid", pid, "code", res.ExitCode, "signal", res.Signal)
	switch {
	case es.err != nil:
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s: %w", MethodStart, l.path, es.err)
	case errors.Is(cause, errTimeout):
		res.TimedOut = true
	case cause != nil:
		return nil, rpc.Errorf(rpc.Canceled, "%s: %s: %w", MethodStart, l.path, cause)
	}
	return res, nil
}

// awaitExit waits for the wait loop to hand over p's status. With a
// pidfd it learns of the exit itself and kicks the loop; if ctx ends
// first it kills the process group and waits for that.
func (m *Manager) awaitExit(ctx context.Context, p *proc, pf *os.File) (exitStatus, error) {
	if pf != nil {
		if waitReadable(ctx, pf) {
			m.kick(p.pid)
		} else if ctx.Err() == nil {
			m.needSIGCHLD() // the pidfd cannot be polled after all
			pf = nil
		}
	}
	select {
	case es := <-p.status:
		return es, nil
	case <-ctx.Done():
	}
	cause := context.Cause(ctx)
	m.mu.Lock()
	_ = m.signalLocked(p, int(syscall.SIGKILL))
	m.mu.Unlock()
	if pf != nil && waitReadable(context.Background(), pf) {
		m.kick(p.pid)
	} else {
		m.needSIGCHLD()
	}
	return <-p.status, cause
}

// announce sends the "started" event of a forked child. As in runFunc, a
// caller that cannot learn the id makes the start fail; the child is
// already running, so announce returns an ended context instead, whose
// cause awaitExit sees: it kills and reaps the child, and runExec returns
// the cause.
func announce(ctx context.Context, call *rpc.Request, ev Event) context.Context {
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
func (m *Manager) drain(outs []*os.File, done <-chan struct{}) {
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
func (m *Manager) pump(dst io.Writer, f *os.File, closeAfter bool, done chan<- struct{}) {
	defer func() {
		if closeAfter {
			f.Close()
		}
		done <- struct{}{}
	}()
	bp := m.pool.Get().(*[]byte)
	defer m.pool.Put(bp)
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
func (m *Manager) feed(w *os.File, call *rpc.Request, closeOnEOF bool) {
	bp := m.pool.Get().(*[]byte)
	defer m.pool.Put(bp)
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
func (m *Manager) resizeID(req ResizeRequest) error {
	if req.Rows == 0 || req.Cols == 0 {
		return rpc.Errorf(rpc.InvalidArgument, "%s: size %dx%d: rows and cols must be positive", MethodResize, req.Rows, req.Cols)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.procs[req.ID]
	switch {
	case p == nil:
		return rpc.Errorf(rpc.NotFound, "%s: no running process with id %d", MethodResize, req.ID)
	case p.sys.pty == nil:
		return rpc.Errorf(rpc.FailedPrecondition, "%s: process %d has no terminal (start it with tty)", MethodResize, req.ID)
	}
	err := control(p.sys.pty, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: req.Rows, Col: req.Cols})
	})
	if err != nil {
		return rpc.Errorf(rpc.Internal, "%s: process %d: TIOCSWINSZ: %w", MethodResize, req.ID, err)
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
