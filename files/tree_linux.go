package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// newTree opens root. Where the kernel has openat2, every open resolves
// with RESOLVE_BENEATH: the kernel itself refuses "..", absolute names
// and symlinks that lead outside. Otherwise os.Root does the same walk
// in user space.
func newTree(root string) (tree, error) {
	rt, err := openRootTree(root)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		rt.Close()
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	t := &beneathTree{rootTree: rt, fd: fd}
	probe, err := t.openat2(".", unix.O_PATH, 0)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		unix.Close(fd)
		return rt, nil // no openat2 (or a seccomp filter forbids it)
	}
	if err == nil {
		unix.Close(probe)
	}
	return t, nil
}

// beneathTree opens through openat2(RESOLVE_BENEATH) and leaves the
// other operations to os.Root.
type beneathTree struct {
	rootTree
	fd int
}

func (t *beneathTree) Close() error {
	unix.Close(t.fd)
	return t.rootTree.Close()
}

func (t *beneathTree) openat2(name string, flag int, perm fs.FileMode) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flag | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flag&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(unixMode(perm)) // openat2 refuses a mode otherwise
	}
	for range 8 {
		fd, err := unix.Openat2(t.fd, name, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // a concurrent rename raced the walk: try again
		case errors.Is(err, unix.EXDEV):
			return -1, &fs.PathError{Op: "openat2", Path: name, Err: errEscapes}
		default:
			return -1, &fs.PathError{Op: "openat2", Path: name, Err: err}
		}
	}
	return -1, &fs.PathError{Op: "openat2", Path: name, Err: fmt.Errorf("resolution kept racing with renames: %w", unix.EAGAIN)}
}

func (t *beneathTree) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	fd, err := t.openat2(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (t *beneathTree) Stat(name string) (fs.FileInfo, error) {
	f, err := t.OpenFile(name, unix.O_PATH, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func (t *beneathTree) OpenDir(name string) (dirHandle, error) {
	fd, err := t.openat2(name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return fdDir{fd: fd, name: name}, nil
}

// fdDir is a directory descriptor; names are single components.
type fdDir struct {
	fd   int
	name string
}

func (d fdDir) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: d.name + "/" + name, Err: err}
}

func (d fdDir) Create(name string, perm fs.FileMode) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, unixMode(perm))
	if err != nil {
		return nil, d.wrap("openat", name, err)
	}
	return os.NewFile(uintptr(fd), d.name+"/"+name), nil
}

func (d fdDir) Rename(oldname, newname string) error {
	return d.wrap("renameat", newname, unix.Renameat(d.fd, oldname, d.fd, newname))
}

func (d fdDir) Link(oldname, newname string) error {
	return d.wrap("linkat", newname, unix.Linkat(d.fd, oldname, d.fd, newname, 0))
}

func (d fdDir) Remove(name string) error {
	return d.wrap("unlinkat", name, unix.Unlinkat(d.fd, name, 0))
}

func (d fdDir) Sync() error {
	if err := unix.Fsync(d.fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return d.wrap("fsync", ".", err)
	}
	return nil
}

func (d fdDir) Close() error { return unix.Close(d.fd) }

// unixMode converts permission and special bits to open(2)'s mode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// CreateUnnamed makes an O_TMPFILE file in the directory, where the
// file system supports it and LinkUnnamed can name it.
func (d fdDir) CreateUnnamed(perm fs.FileMode) (*os.File, error) {
	if unix.Geteuid() != 0 && !procMounted() {
		return nil, errors.ErrUnsupported // no way to link it
	}
	fd, err := unix.Openat(d.fd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, unixMode(perm))
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return nil, errors.ErrUnsupported
	}
	if err != nil {
		return nil, d.wrap("openat O_TMPFILE", ".", err)
	}
	return os.NewFile(uintptr(fd), d.name+"/(unnamed)"), nil
}

// LinkUnnamed names f: by descriptor with AT_EMPTY_PATH (which needs
// CAP_DAC_READ_SEARCH), else through /proc/self/fd.
func (d fdDir) LinkUnnamed(f *os.File, name string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = unix.Linkat(int(fd), "", d.fd, name, unix.AT_EMPTY_PATH)
		if errors.Is(lerr, unix.ENOENT) || errors.Is(lerr, unix.EPERM) {
			lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), d.fd, name, unix.AT_SYMLINK_FOLLOW)
		}
	}); err != nil {
		return err
	}
	return d.wrap("linkat", name, lerr)
}
