//go:build darwin || freebsd

package channel

import "golang.org/x/sys/unix"

// peerCred reads the credentials the kernel recorded for the peer of the
// unix socket fd when it connected (LOCAL_PEERCRED; the pid is not
// reported).
func peerCred(fd int) (uid, gid uint32, pid int32, err error) {
	c, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, 0, 0, err
	}
	if c.Ngroups > 0 {
		gid = c.Groups[0]
	}
	return c.Uid, gid, 0, nil
}
