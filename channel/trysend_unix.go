//go:build unix

package channel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// tryWrite makes one non-blocking write of b to rc: 0 and no error when
// the socket is full.
func tryWrite(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), b)
			if werr != unix.EINTR {
				break
			}
		}
		if werr == unix.EAGAIN {
			n, werr = 0, nil
		}
		n = max(n, 0)
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}
