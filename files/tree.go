package files

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// errEscapes marks a path that resolves outside the root.
var errEscapes = errors.New("path escapes the root")

// isEscape reports whether err means a path (through "..", an absolute
// name or a symlink) left the root, as openat2 or os.Root report it.
func isEscape(err error) bool {
	return errors.Is(err, errEscapes) || (err != nil && strings.Contains(err.Error(), "path escapes from parent"))
}

// tree is the file system beneath the root. Every name is relative to
// it; no name, symlink or ".." may leave it.
type tree interface {
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	// RenameNoReplace renames unless newname exists, which it reports
	// as fs.ErrExist; see the implementations for how atomically.
	RenameNoReplace(oldname, newname string) error
	Link(oldname, newname string) error
	Chmod(name string, mode fs.FileMode) error
	Chown(name string, uid, gid int) error
	Lchown(name string, uid, gid int) error
	Chtimes(name string, atime, mtime time.Time) error
	Readlink(name string) (string, error)
	Symlink(oldname, newname string) error
	OpenRoot(name string) (*os.Root, error)
	// OpenDir holds the directory name open so that a write can create,
	// rename and sync inside exactly that directory, whatever happens to
	// the path meanwhile.
	OpenDir(name string) (dirHandle, error)
	// OpenMeta resolves name (a final symlink followed when follow) for
	// a change of its attributes, so that the file checked is the file
	// changed.
	OpenMeta(name string, follow bool) (metaFile, error)
	Close() error
}

// metaFile is a resolved file whose attributes change.
type metaFile interface {
	Stat() (fs.FileInfo, error)
	Chmod(mode fs.FileMode) error
	Chown(uid, gid int) error
	Chtimes(atime, mtime time.Time) error
	Close() error
}

// dirHandle is a directory held open by descriptor.
type dirHandle interface {
	// Create makes a new file, never following a symlink.
	Create(name string, perm fs.FileMode) (*os.File, error)
	Rename(oldname, newname string) error
	Link(oldname, newname string) error
	Remove(name string) error
	Sync() error
	Close() error
}

// rootTree is the portable tree: os.Root resolves every path component
// by descriptor and refuses escapes.
type rootTree struct{ *os.Root }

// RenameNoReplace checks that newname is absent and renames: os.Root
// has no rename that refuses to replace, so a newname created between
// the check and the rename is replaced.
func (r rootTree) RenameNoReplace(oldname, newname string) error {
	return renameChecked(r, oldname, newname)
}

// renameChecked renames oldname in t unless newname exists.
func renameChecked(t tree, oldname, newname string) error {
	if _, err := t.Lstat(newname); err == nil {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return t.Rename(oldname, newname)
}

func openRootTree(dir string) (rootTree, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return rootTree{}, err
	}
	return rootTree{r}, nil
}

func (t rootTree) OpenDir(name string) (dirHandle, error) {
	r, err := t.Root.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	return rootDir{r}, nil
}

// OpenMeta names the file; os.Root resolves it again for each change,
// so a swap between the check and the change stays beneath the root
// but may change a different file.
func (t rootTree) OpenMeta(name string, follow bool) (metaFile, error) {
	m := rootMeta{t.Root, name, follow}
	if _, err := m.Stat(); err != nil {
		return nil, err
	}
	return m, nil
}

type rootMeta struct {
	r      *os.Root
	name   string
	follow bool
}

func (m rootMeta) Stat() (fs.FileInfo, error) {
	if m.follow {
		return m.r.Stat(m.name)
	}
	return m.r.Lstat(m.name)
}

func (m rootMeta) Chmod(mode fs.FileMode) error { return m.r.Chmod(m.name, mode) }

func (m rootMeta) Chown(uid, gid int) error {
	if m.follow {
		return m.r.Chown(m.name, uid, gid)
	}
	return m.r.Lchown(m.name, uid, gid)
}

func (m rootMeta) Chtimes(atime, mtime time.Time) error { return m.r.Chtimes(m.name, atime, mtime) }
func (m rootMeta) Close() error                         { return nil }

type rootDir struct{ *os.Root }

func (d rootDir) Create(name string, perm fs.FileMode) (*os.File, error) {
	return d.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
}

func (d rootDir) Sync() error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return syncDir(f)
}

// syncDir fsyncs a directory; file systems that cannot (EINVAL) pass.
func syncDir(f *os.File) error {
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
