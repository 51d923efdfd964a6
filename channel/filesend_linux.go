package channel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// pipeSize is the pipe capacity a FileSender asks for: the largest DATA
// frame rpc sends.
const pipeSize = 512 << 10

// fileSend is the Linux splice(2) path: file → pipe → socket or
// virtio-console port.
type fileSend struct {
	src      syscall.RawConn
	sock     syscall.RawConn
	pr, pw   int
	pipeSize int
	// port is the virtio-console session being sent to, if that is
	// what the stream is: a send counts as in flight on it.
	port *virtioSession
}

func (fs *fileSend) open(rwc any, src syscall.Conn) error {
	var sc syscall.Conn
	var port *virtioSession
	switch c := rwc.(type) {
	case *net.UnixConn:
		sc = c
	case *net.TCPConn:
		sc = c
	case readWriteCloser:
		sc, port = c.virtioSession.f, c.virtioSession
	default:
		return fmt.Errorf("%w: the stream is a %T, not a socket", ErrNoFileSend, rwc)
	}
	sock, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoFileSend, err)
	}
	fsrc, err := src.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoFileSend, err)
	}
	var st unix.Stat_t
	serr := fsrc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	if serr != nil || err != nil {
		return fmt.Errorf("%w: %v", ErrNoFileSend, errors.Join(serr, err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%w: not a regular file", ErrNoFileSend)
	}
	pr, pw, size, err := newPipe(pipeSize)
	if err != nil {
		return err
	}
	*fs = fileSend{src: fsrc, sock: sock, pr: pr, pw: pw, pipeSize: size, port: port}
	return nil
}

// minPipe is the smallest pipe worth splicing through: one page.
const minPipe = 4 << 10

// newPipe returns a non-blocking pipe of (at best) size bytes, and its size.
func newPipe(size int) (r, w, got int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, -1, 0, fmt.Errorf("%w: pipe: %v", ErrNoFileSend, err)
	}
	got, err = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, size)
	if err != nil {
		// The system's pipe-max-size is lower: use the pipe as it is.
		got, err = unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	}
	if err != nil || got < minPipe {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, -1, 0, fmt.Errorf("%w: pipe size %d: %v", ErrNoFileSend, got, err)
	}
	return p[0], p[1], got, nil
}

// send writes hdr with write(2) and then splices the n bytes waiting in
// the pipe to the stream. On a virtio-console port the header must not
// share the payload's splice: the driver copies each page-cache page
// into a page of its own at the offset the bytes before it in that
// splice leave (drivers/char/virtio_console.c, pipe_to_sg), so a 10-byte
// header ahead of the payload split every page in two, doubled the
// pages it allocated and filled its list of buffers halfway through the
// pipe. A header written on its own costs one more buffer, and VM exit,
// per frame, and took 256 KiB frames from 123–136 to 151–182 MB/s
// under TCG.
func (fs *fileSend) send(w io.Writer, hdr []byte, n int) error {
	if fs.port != nil {
		if !fs.port.begin() {
			return ErrClosed
		}
		defer fs.port.end()
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	return fs.drain(fs.pr, n)
}

func (fs *fileSend) fill(n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	var m int64
	var serr error
	err := fs.src.Control(func(fd uintptr) {
		for {
			m, serr = unix.Splice(int(fd), nil, fs.pw, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if serr != unix.EINTR {
				return
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("channel: splice from file: %w", err)
	}
	return int(m), nil
}

// drain moves n bytes from the pipe read by pr to the stream, waiting
// while the stream is full.
func (fs *fileSend) drain(pr, n int) error {
	var serr error
	err := fs.sock.Write(func(fd uintptr) bool {
		for n > 0 {
			m, err := unix.Splice(pr, nil, int(fd), nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false // wait until the socket takes more
			case err != nil:
				serr = err
				return true
			case m == 0:
				serr = io.ErrUnexpectedEOF
				return true
			}
			n -= int(m)
		}
		return true
	})
	if err == nil {
		err = serr
	}
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return fmt.Errorf("splice to socket: %w (%v)", io.EOF, err)
	}
	return err
}

func (fs *fileSend) close() error {
	if fs.pr < 0 {
		return nil
	}
	err := unix.Close(fs.pr)
	if e := unix.Close(fs.pw); err == nil {
		err = e
	}
	fs.pr, fs.pw = -1, -1
	return err
}
