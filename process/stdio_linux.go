package process

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/rpc"
)

// stdio holds the files of one process.
type stdio struct {
	child [3]int // the child's 0, 1, 2
	own   []int  // descriptors of child that are ours to close once it started
	// outFD are our read ends of the output pipes (stdout, stderr),
	// non-blocking, -1 once closed or wrapped into outs. They stay bare
	// descriptors while waitShort reads them; only a call that outlives
	// it wraps them for the netpoller.
	outFD []int
	outs  []*os.File // read ends wrapped for the pumps, or the pty master
	lanes []rpc.Lane // the lane each of outs (or outFD) is sent on
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
	for i, fd := range s.outFD {
		if fd >= 0 {
			syscall.Close(fd)
			s.outFD[i] = -1
		}
	}
	for _, f := range s.outs {
		f.Close()
	}
	if s.stdin != nil {
		s.stdin.Close()
	}
}

// wrapOuts moves the output pipes still open from outFD to outs, with
// their lanes, for the pumps. A terminal's outs are already wrapped.
func (s *stdio) wrapOuts() {
	if len(s.outFD) == 0 {
		return
	}
	lanes := s.lanes
	s.lanes = nil
	for i, fd := range s.outFD {
		if fd >= 0 {
			s.outs = append(s.outs, os.NewFile(uintptr(fd), "|"+strconv.Itoa(fd)))
			s.lanes = append(s.lanes, lanes[i])
			s.outFD[i] = -1
		}
	}
}

// pipe returns a pipe whose end ours (0: read, 1: write) is non-blocking
// and whose other end is a blocking descriptor for the child.
func pipe(ours int) (int, int, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, -1, fmt.Errorf("pipe2: %w", err)
	}
	// F_SETFL alone: a new pipe's status flags are empty (O_CLOEXEC is
	// a descriptor flag), which spares SetNonblock's F_GETFL.
	if _, err := unix.FcntlInt(uintptr(p[ours]), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, -1, fmt.Errorf("pipe: O_NONBLOCK: %w", err)
	}
	return p[ours], p[1-ours], nil
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
		st.stdin, st.child[0], st.own = os.NewFile(uintptr(w), "|"+strconv.Itoa(w)), r, append(st.own, r)
	}
	for i, lane := range []rpc.Lane{LaneStdout, LaneStderr} {
		r, w, err := pipe(0)
		if err != nil {
			return st, fmt.Errorf("output %w", err)
		}
		st.child[1+i], st.own = w, append(st.own, w)
		st.outFD, st.lanes = append(st.outFD, r), append(st.lanes, lane)
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

// closeOut closes output pipe i, which the call has read to the end.
func (s *stdio) closeOut(i int) {
	if s.outFD[i] >= 0 {
		syscall.Close(s.outFD[i])
		s.outFD[i] = -1
	}
}
