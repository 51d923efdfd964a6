package channel

import (
	"io"

	"golang.org/x/sys/unix"
)

// portBuffer is the size of the buffers a Linux guest gives the host to
// fill for a virtio-console port: one page each.
const portBuffer = 4 << 10

// maxPortBuffers bounds the buffers one read of a port takes.
const maxPortBuffers = 64

// readPort reads the port. read(2) on a Linux virtio-console port
// returns the bytes of at most one of the page-sized buffers the host
// filled, so reading a 256 KiB payload took 64 system calls (and under
// emulation each is dear). The driver has no read_iter, so the kernel
// runs readv(2) as one read per iovec until one comes back short: with
// page-sized iovecs one readv takes every full buffer waiting, and
// stops at the first partly filled one, where read(2) would also have
// stopped.
func (s *virtioSession) readPort(p []byte) (int, error) {
	if len(p) < 2*portBuffer {
		return s.f.Read(p)
	}
	if s.raw == nil {
		raw, err := s.f.SyscallConn()
		if err != nil {
			return s.f.Read(p)
		}
		s.raw = raw
	}
	s.iov = portIovecs(s.iov[:0], p)
	var n int
	var err error
	rerr := s.raw.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Readv(int(fd), s.iov)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	clear(s.iov) // keep no reference to the caller's buffer
	switch {
	case rerr != nil:
		return 0, rerr
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// portIovecs appends to iov the first maxPortBuffers page-sized pieces
// of p (the last may be shorter).
func portIovecs(iov [][]byte, p []byte) [][]byte {
	for len(p) > 0 && len(iov) < maxPortBuffers {
		n := min(len(p), portBuffer)
		iov = append(iov, p[:n])
		p = p[n:]
	}
	return iov
}
