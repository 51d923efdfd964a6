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

// stdio holds the files of one process.
type stdio struct {
	child []*os.File // the child's 0, 1, 2; closed once it has started
	outs  []*os.File // our read ends (stdout, stderr) or the pty master
	lanes []rpc.Lane // the lane each of outs is sent on
	stdin *os.File   // where lane 0 goes: the pipe's write end or the master
	pty   *os.File
}

func (s *stdio) closeChild() {
	for _, f := range s.child {
		if f != nil {
			f.Close()
		}
	}
	s.child = nil
}

func (s *stdio) closeOurs() {
	for _, f := range s.outs {
		f.Close()
	}
	if s.stdin != nil {
		s.stdin.Close()
	}
}

func openStdio(spec *Spec) (st *stdio, err error) {
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
		st.child = []*os.File{slave, slave, slave}
		if spec.Stdin {
			st.stdin = master
		}
		return st, nil
	}
	st.child = make([]*os.File, 3)
	if spec.Stdin {
		if st.child[0], st.stdin, err = os.Pipe(); err != nil {
			return st, fmt.Errorf("stdin pipe: %w", err)
		}
	} else if st.child[0], err = os.Open(os.DevNull); err != nil {
		return st, err
	}
	for i, lane := range []rpc.Lane{LaneStdout, LaneStderr} {
		r, w, err := os.Pipe()
		if err != nil {
			return st, fmt.Errorf("output pipe: %w", err)
		}
		st.child[1+i] = w
		st.outs, st.lanes = append(st.outs, r), append(st.lanes, lane)
	}
	return st, nil
}

// openPTY opens a new pseudo-terminal of rows x cols.
func openPTY(rows, cols uint16) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
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
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, err
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

func (m *Manager) runExec(ctx context.Context, call *rpc.Call, spec *Spec) (any, error) {
	l, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	st, err := openStdio(spec)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeOf(err), "%s: %w", MethodStart, err)
	}
	defer st.closeOurs()
	files := make([]uintptr, len(st.child))
	for i, f := range st.child {
		files[i] = f.Fd()
	}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: l.env, Files: files, Sys: &syscall.SysProcAttr{
		Setpgid: !spec.TTY, Setsid: spec.TTY, Setctty: spec.TTY, Credential: l.cred,
	}}
	p := &proc{spec: spec, status: make(chan exitStatus, 1), sys: procSys{pty: st.pty}}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		st.closeChild()
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %w", MethodStart, errClosed)
	}
	pid, err := syscall.ForkExec(l.path, l.argv, attr)
	if err == nil {
		p.pid = pid
		m.registerLocked(p)
	}
	m.mu.Unlock()
	st.closeChild()
	if err != nil {
		if spec.Dir != "" {
			return nil, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q in dir %q: %w", MethodStart, l.path, spec.Dir, err)
		}
		return nil, rpc.Errorf(rpc.CodeOf(err), "%s: starting %q: %w", MethodStart, l.path, err)
	}
	defer m.unregister(p)
	m.log.Debug("process: started", "id", p.id, "pid", pid, "path", l.path)
	_ = sendEvent(call, Event{Type: "started", ID: p.id, PID: pid})

	done := make(chan struct{}, len(st.outs))
	for i, f := range st.outs {
		go m.pump(call.LaneWriter(st.lanes[i]), f, done)
	}
	if st.stdin != nil {
		go m.feed(st.stdin, call, !spec.TTY)
	}

	var es exitStatus
	var cause error
	select {
	case es = <-p.status:
	case <-ctx.Done():
		cause = context.Cause(ctx)
		m.mu.Lock()
		_ = m.signalLocked(p, int(syscall.SIGKILL))
		m.mu.Unlock()
		es = <-p.status
	}
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
// process never blocks on a full pipe.
func (m *Manager) pump(dst io.Writer, f *os.File, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	bp := m.pool.Get().(*[]byte)
	defer m.pool.Put(bp)
	buf := *bp
	for {
		n, err := f.Read(buf)
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
func (m *Manager) feed(w *os.File, call *rpc.Call, closeOnEOF bool) {
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
