package process

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/rpc"
)

// shortWait bounds how long a call waits for its process on its own
// thread (waitShort) before it hands the wait to the netpoller: long
// enough for the short commands an agent mostly runs, short enough that
// a process that lives on holds a thread only briefly.
const shortWait = 50 * time.Millisecond

// waited is how a process ended: exited is false while it runs.
type waited struct {
	exited bool
	status exitStatus
	ended  time.Time
}

// waitShort waits for a process with a pidfd and output pipes on the
// calling thread, in ppoll(2) on the pidfd and the pipes: it sends
// output as it comes, reaps the process the moment its pidfd says it
// exited, and then gives the pipes OutputGrace to reach EOF, as drain
// does. Most processes an agent runs are short, and for them this spares
// the hand-offs of the netpoller path (a goroutine woken for the pidfd
// and for each pipe, the pumps' signals to the call), which on a busy
// two-core guest cost more than the rest of the call.
//
// It gives up, returning exited false with the pipes it has not finished
// left in st.outFD, when ctx ends or after shortWait, so that a
// long-running process holds no thread: the caller then goes on with
// waitLong. ctx's deadline bounds the wait; a cancellation without one
// is noticed when the wait is over, at most shortWait later.
func (s *Service) waitShort(ctx context.Context, call *rpc.Request, p *proc, pidfd int, st *stdio) (w waited) {
	if ctx.Err() != nil {
		return w
	}
	end := time.Now().Add(s.sys.shortWait)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	var fdsArr [3]unix.PollFd
	fds := append(fdsArr[:0], unix.PollFd{Fd: int32(pidfd), Events: unix.POLLIN})
	var dstArr [2]io.Writer
	dsts := dstArr[:0]
	for i, fd := range st.outFD {
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		dsts = append(dsts, call.LaneWriter(st.lanes[i]))
	}
	bp := s.pool.Get().(*[]byte)
	defer s.pool.Put(bp)
	for open := len(st.outFD); !w.exited || open > 0; {
		left := time.Until(end)
		if left <= 0 || (!w.exited && ctx.Err() != nil) {
			if w.exited { // the grace is over: send what is there, stop
				for i, fd := range st.outFD {
					if fd >= 0 {
						drainFD(fd, dsts[i], *bp)
						st.closeOut(i)
					}
				}
			}
			return w
		}
		ts := unix.NsecToTimespec(int64(left))
		if _, err := unix.Ppoll(fds, &ts, nil); err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return w
		}
		if fds[0].Revents != 0 && !w.exited {
			fds[0].Fd = -1 // poll ignores it from now on
			s.exited(p.pid)
			w = waited{exited: true, status: <-p.status, ended: time.Now()}
			end = w.ended.Add(OutputGrace)
		}
		for i := range st.outFD {
			if fds[1+i].Revents == 0 || fds[1+i].Fd < 0 {
				continue
			}
			if !copyReady(st.outFD[i], &dsts[i], *bp) {
				fds[1+i].Fd = -1
				st.closeOut(i)
				open--
			}
		}
	}
	return w
}

// copyReady sends what the non-blocking fd holds to *dst, a buffer at a
// time, until it would block; it reports false at EOF or on an error.
// When *dst fails (the host is gone) it becomes io.Discard, so that the
// process never blocks on a full pipe.
func copyReady(fd int, dst *io.Writer, buf []byte) bool {
	for {
		n, err := syscall.Read(fd, buf)
		if n > 0 {
			if _, werr := (*dst).Write(buf[:n]); werr != nil {
				*dst = io.Discard
			}
			if n == len(buf) {
				continue
			}
			return true // a short read: the pipe is empty
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return errors.Is(err, syscall.EAGAIN)
	}
}

// drainFD sends what the non-blocking fd holds without waiting, at most
// 64 buffers, like drainNow.
func drainFD(fd int, dst io.Writer, buf []byte) {
	for range 64 {
		n, err := syscall.Read(fd, buf)
		if err != nil || n <= 0 {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}
