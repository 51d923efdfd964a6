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
const pipeSize = 256 << 10

// fileSend is the Linux splice(2) path: file → pipe → socket.
type fileSend struct {
	src      syscall.RawConn
	sock     syscall.RawConn
	pr, pw   int
	pipeSize int
}

func (fs *fileSend) open(rwc any, src syscall.Conn) error {
	var sc syscall.Conn
	switch c := rwc.(type) {
	case *net.UnixConn:
		sc = c
	case *net.TCPConn:
		sc = c
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
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("%w: pipe: %v", ErrNoFileSend, err)
	}
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		// The system's pipe-max-size is lower: use the pipe as it is.
		size, err = unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	}
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return fmt.Errorf("%w: pipe size: %v", ErrNoFileSend, err)
	}
	*fs = fileSend{src: fsrc, sock: sock, pr: p[0], pw: p[1], pipeSize: size}
	return nil
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

// drain moves n bytes from the pipe to the socket, waiting while the
// socket is full.
func (fs *fileSend) drain(n int) error {
	var serr error
	err := fs.sock.Write(func(fd uintptr) bool {
		for n > 0 {
			m, err := unix.Splice(fs.pr, nil, int(fd), nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
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
