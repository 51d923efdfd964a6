package channel

import "golang.org/x/sys/unix"

// peerCred reads the credentials the kernel recorded for the peer of the
// unix socket fd when it connected (SO_PEERCRED).
func peerCred(fd int) (uid, gid uint32, pid int32, err error) {
	c, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, 0, 0, err
	}
	return c.Uid, c.Gid, c.Pid, nil
}
