package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The beneathTree's operations by name: the parent directory is opened
// with openat2(RESOLVE_BENEATH) and the last component is changed
// relative to it, never followed, so no symlink in the path (swapped in
// at any moment) leads outside the root.

// parent opens the directory holding name and returns it with name's
// last component.
func (t *beneathTree) parent(name string) (int, string, error) {
	fd, err := t.openat2(filepath.Dir(name), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, filepath.Base(name), nil
}

// at runs fn on name's parent and last component.
func (t *beneathTree) at(op, name string, fn func(dir int, base string) error) error {
	dir, base, err := t.parent(name)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if err := fn(dir, base); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

func (t *beneathTree) Lstat(name string) (fs.FileInfo, error) {
	f, err := t.OpenFile(name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func (t *beneathTree) Mkdir(name string, perm fs.FileMode) error {
	return t.at("mkdirat", name, func(dir int, base string) error { return unix.Mkdirat(dir, base, unixMode(perm)) })
}

// Remove removes a file or an empty directory, as os.Remove does.
func (t *beneathTree) Remove(name string) error {
	return t.at("unlinkat", name, func(dir int, base string) error {
		err := unix.Unlinkat(dir, base, 0)
		if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
			if derr := unix.Unlinkat(dir, base, unix.AT_REMOVEDIR); !errors.Is(derr, unix.ENOTDIR) {
				return derr
			}
		}
		return err
	})
}

func (t *beneathTree) Rename(oldname, newname string) error {
	return t.at("renameat", oldname, func(odir int, obase string) error {
		return t.at("renameat", newname, func(ndir int, nbase string) error {
			return unix.Renameat(odir, obase, ndir, nbase)
		})
	})
}

// RenameNoReplace renames with RENAME_NOREPLACE, so that the kernel
// checks for newname and renames in one step. A file system without the
// flag (EINVAL) gets the check and the rename as two steps, as rootTree
// does; renameat then reports any other cause of EINVAL again.
func (t *beneathTree) RenameNoReplace(oldname, newname string) error {
	err := t.at("renameat2", oldname, func(odir int, obase string) error {
		return t.at("renameat2", newname, func(ndir int, nbase string) error {
			return unix.Renameat2(odir, obase, ndir, nbase, unix.RENAME_NOREPLACE)
		})
	})
	if errors.Is(err, unix.EINVAL) {
		return renameChecked(t, oldname, newname)
	}
	return err
}

// Link makes newname a hard link to oldname; a symlink oldname is
// linked itself, never followed.
func (t *beneathTree) Link(oldname, newname string) error {
	return t.at("linkat", oldname, func(odir int, obase string) error {
		return t.at("linkat", newname, func(ndir int, nbase string) error {
			return unix.Linkat(odir, obase, ndir, nbase, 0)
		})
	})
}

func (t *beneathTree) Symlink(oldname, newname string) error {
	return t.at("symlinkat", newname, func(dir int, base string) error { return unix.Symlinkat(oldname, dir, base) })
}

func (t *beneathTree) Readlink(name string) (string, error) {
	var target string
	err := t.at("readlinkat", name, func(dir int, base string) error {
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(dir, base, buf)
		if err == nil {
			target = string(buf[:n])
		}
		return err
	})
	return target, err
}

func (t *beneathTree) Chmod(name string, mode fs.FileMode) error {
	m, err := t.OpenMeta(name, true)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Chmod(mode)
}

func (t *beneathTree) Chown(name string, uid, gid int) error {
	return t.chown(name, uid, gid, true)
}

func (t *beneathTree) Lchown(name string, uid, gid int) error {
	return t.chown(name, uid, gid, false)
}

func (t *beneathTree) chown(name string, uid, gid int, follow bool) error {
	m, err := t.OpenMeta(name, follow)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Chown(uid, gid)
}

func (t *beneathTree) Chtimes(name string, atime, mtime time.Time) error {
	m, err := t.OpenMeta(name, true)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Chtimes(atime, mtime)
}

// OpenMeta holds name by an O_PATH descriptor: the file checked is the
// file changed, whatever happens to the path meanwhile.
func (t *beneathTree) OpenMeta(name string, follow bool) (metaFile, error) {
	flag := unix.O_PATH
	if !follow {
		flag |= unix.O_NOFOLLOW
	}
	f, err := t.OpenFile(name, flag, 0)
	if err != nil {
		return nil, err
	}
	return fdMeta{f: f, name: name, root: t.rootTree, follow: follow}, nil
}

type fdMeta struct {
	f      *os.File
	name   string
	root   rootTree
	follow bool
}

func (m fdMeta) Stat() (fs.FileInfo, error) { return m.f.Stat() }
func (m fdMeta) Close() error               { return m.f.Close() }

// proc names the descriptor in /proc/self/fd: the kernel follows that
// link to the very file, not to a path.
func (m fdMeta) proc() string { return "/proc/self/fd/" + strconv.Itoa(int(m.f.Fd())) }

func (m fdMeta) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: m.name, Err: err}
}

// Chmod changes the mode through /proc/self/fd (chmod has no
// AT_EMPTY_PATH before Linux 6.6); without /proc it falls back to
// os.Root, which stays beneath the root.
func (m fdMeta) Chmod(mode fs.FileMode) error {
	err := unix.Fchmodat(unix.AT_FDCWD, m.proc(), unixMode(mode), 0)
	if errors.Is(err, unix.ENOENT) && !procMounted() {
		return m.root.Chmod(m.name, mode)
	}
	return m.wrap("chmod", err)
}

func (m fdMeta) Chown(uid, gid int) error {
	return m.wrap("chown", unix.Fchownat(int(m.f.Fd()), "", uid, gid, unix.AT_EMPTY_PATH))
}

func (m fdMeta) Chtimes(atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	err := unix.UtimesNanoAt(unix.AT_FDCWD, m.proc(), ts, 0)
	if errors.Is(err, unix.ENOENT) && !procMounted() {
		return m.root.Chtimes(m.name, atime, mtime)
	}
	return m.wrap("utimensat", err)
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
}

// timespec is t for utimensat; a zero t leaves that time unchanged, as
// os.Chtimes does.
func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}
