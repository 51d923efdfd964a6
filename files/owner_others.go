//go:build !unix

package files

import "io/fs"

// owner returns -1, -1: this platform has no POSIX owners.
func owner(fs.FileInfo) (uid, gid int) { return -1, -1 }

// links returns 1: this platform reports no link counts.
func links(fs.FileInfo) uint64 { return 1 }
