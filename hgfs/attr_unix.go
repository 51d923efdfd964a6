//go:build unix

package hgfs

import (
	"io/fs"
	"syscall"
	"time"
)

// sysAttrs returns owner, inode and access time of fi, or -1 owners.
func sysAttrs(fi fs.FileInfo) (uid, gid int, ino uint64, atime time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, 0, time.Time{}
	}
	return int(st.Uid), int(st.Gid), uint64(st.Ino), statAtime(st)
}
