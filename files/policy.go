package files

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Refusals of the policy, for errors.Is. Each comes wrapped in an
// *rpc.Error with code PermissionDenied and the path it refused.
var (
	// ErrEscapes is a path that resolves outside the root (through "..",
	// an absolute name or a symlink).
	ErrEscapes = errEscapes
	// ErrReadOnly is a change refused because the files are served
	// read-only.
	ErrReadOnly = errors.New("the agent serves files read-only")
	// ErrHardLinked is an in-place change (append, write, truncate,
	// chmod, chown) of a regular file with more than one hard link while
	// a root is set: another link may lie outside the root.
	ErrHardLinked = errors.New("regular file has more than one hard link")
	// ErrNotRegular is a read or write of something that is neither a
	// regular file nor a directory (a FIFO, socket or device), which
	// could block the agent beyond any deadline.
	ErrNotRegular = errors.New("not a regular file")
)

// Policy is the one set of rules that every path a peer names obeys,
// whichever method names it (file.*, hgfs.packet): confinement beneath
// the root (resolved by descriptor, never by string alone), read-only
// mode, the hard-link rule and opening only regular files and
// directories. It is safe for concurrent use.
type Policy struct {
	log      *slog.Logger
	root     string
	readOnly bool
	confined bool // a root other than "/": the hard-link rule applies
	tree     tree
}

// NewPolicy opens opts.Root (default "/"). Close releases it.
func NewPolicy(opts Options) (*Policy, error) { return newPolicy(opts, newTree) }

func newPolicy(opts Options, open func(string) (tree, error)) (*Policy, error) {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("files: root %q: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("files: root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("files: root %q: not a directory", root)
	}
	t, err := open(abs)
	if err != nil {
		return nil, fmt.Errorf("files: root %q: %w", root, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Policy{log: log, root: abs, readOnly: opts.ReadOnly, confined: abs != "/", tree: t}, nil
}

// Close releases the root's descriptors.
func (p *Policy) Close() error { return p.tree.Close() }

// Root is the absolute directory that confines every path.
func (p *Policy) Root() string { return p.root }

// ReadOnly reports whether changes are refused.
func (p *Policy) ReadOnly() bool { return p.readOnly }

// resolve turns a peer's path into a name relative to the root. It
// refuses names that leave the root as strings; the tree then refuses
// those that leave it through symlinks.
func (p *Policy) resolve(op, name string) (string, error) {
	if name == "" {
		return "", rpc.Errorf(rpc.InvalidArgument, "%s: empty path", op)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", rpc.Errorf(rpc.InvalidArgument, "%s %q: path holds a NUL byte", op, name)
	}
	full := name
	if !filepath.IsAbs(name) {
		full = filepath.Join(p.root, name)
	}
	r, err := filepath.Rel(p.root, filepath.Clean(full))
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", rpc.Errorf(rpc.PermissionDenied, "%s %q: %w %s", op, name, errEscapes, p.root)
	}
	return r, nil
}

// Writable refuses op on name in read-only mode.
func (p *Policy) Writable(op, name string) error {
	if p.readOnly {
		return rpc.Errorf(rpc.PermissionDenied, "%s %q: %w", op, name, ErrReadOnly)
	}
	return nil
}

// fail turns err from op on the peer's path name into an rpc error.
func fail(op, name string, err error) error {
	var re *rpc.Error
	if errors.As(err, &re) {
		return err
	}
	code := rpc.CodeOf(err)
	switch {
	case isEscape(err):
		code = rpc.PermissionDenied
	case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		code = rpc.FailedPrecondition // before fs.ErrExist, which ENOTEMPTY also matches
	}
	return rpc.Errorf(code, "%s %q: %w", op, name, err)
}

// singleLink enforces the hard-link rule on fi, the file about to be
// changed in place.
func (p *Policy) singleLink(op, name string, fi fs.FileInfo) error {
	if p.confined && fi.Mode().IsRegular() && links(fi) > 1 {
		return rpc.Errorf(rpc.PermissionDenied, "%s %q: %w (%d links; another may lie outside the root %s)", op, name, ErrHardLinked, links(fi), p.root)
	}
	return nil
}

// writeFlags are the open flags that change a file.
const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREATE | os.O_TRUNC

// Open opens name under the policy. Only regular files and directories
// open: anything else is refused with ErrNotRegular before it is read,
// because it is opened non-blocking (a FIFO without a writer cannot hold
// the agent in open(2)). Writing needs the files writable, a directory
// cannot be opened for writing, and an existing file opened for writing
// obeys the hard-link rule before O_TRUNC touches it.
func (p *Policy) Open(op, name string, flag int, perm fs.FileMode) (*os.File, error) {
	rel, err := p.resolve(op, name)
	if err != nil {
		return nil, err
	}
	write := flag&writeFlags != 0
	if write {
		if err := p.Writable(op, name); err != nil {
			return nil, err
		}
	}
	f, err := p.tree.OpenFile(rel, flag&^os.O_TRUNC|syscall.O_NONBLOCK|syscall.O_NOCTTY, perm)
	if errors.Is(err, syscall.ENXIO) { // a FIFO without a reader, a socket, a device without its hardware
		return nil, rpc.Errorf(rpc.PermissionDenied, "%s %q: %w: only regular files and directories are read or written (%w)", op, name, ErrNotRegular, err)
	}
	if err != nil {
		return nil, fail(op, name, err)
	}
	if err := p.check(op, name, f, flag); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// check vets a file Open has just opened and finishes opening it.
func (p *Policy) check(op, name string, f *os.File, flag int) error {
	fi, err := f.Stat()
	if err != nil {
		return fail(op, name, err)
	}
	write := flag&writeFlags != 0
	switch {
	case fi.IsDir() && write:
		return rpc.Errorf(rpc.FailedPrecondition, "%s %q: is a directory", op, name)
	case fi.IsDir():
		return nil
	case !fi.Mode().IsRegular():
		return rpc.Errorf(rpc.PermissionDenied, "%s %q: %w (%v): only regular files and directories are read or written", op, name, ErrNotRegular, fi.Mode().Type())
	}
	if write && flag&os.O_EXCL == 0 {
		if err := p.singleLink(op, name, fi); err != nil {
			return err
		}
	}
	if err := setBlocking(f); err != nil {
		return fail(op, name, err)
	}
	if flag&os.O_TRUNC != 0 {
		if err := f.Truncate(0); err != nil {
			return fail(op, name, err)
		}
	}
	return nil
}

// setBlocking clears O_NONBLOCK, which only served the open.
func setBlocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}

// Stat describes name, following a final symlink beneath the root.
func (p *Policy) Stat(op, name string) (fs.FileInfo, error) {
	rel, err := p.resolve(op, name)
	if err != nil {
		return nil, err
	}
	fi, err := p.tree.Stat(rel)
	if err != nil {
		return nil, fail(op, name, err)
	}
	return fi, nil
}

// Lstat describes name without following a final symlink.
func (p *Policy) Lstat(op, name string) (fs.FileInfo, error) {
	rel, err := p.resolve(op, name)
	if err != nil {
		return nil, err
	}
	fi, err := p.tree.Lstat(rel)
	if err != nil {
		return nil, fail(op, name, err)
	}
	return fi, nil
}

// meta resolves name for a change of its attributes, checks the policy
// and runs change on it.
func (p *Policy) meta(op, name string, follow, linkRule bool, change func(metaFile) error) error {
	rel, err := p.resolve(op, name)
	if err == nil {
		err = p.Writable(op, name)
	}
	if err != nil {
		return err
	}
	m, err := p.tree.OpenMeta(rel, follow)
	if err != nil {
		return fail(op, name, err)
	}
	defer m.Close()
	if linkRule {
		fi, err := m.Stat()
		if err != nil {
			return fail(op, name, err)
		}
		if err := p.singleLink(op, name, fi); err != nil {
			return err
		}
	}
	if err := change(m); err != nil {
		return fail(op, name, err)
	}
	return nil
}

// Chmod changes the mode of name (following symlinks beneath the root).
func (p *Policy) Chmod(op, name string, mode fs.FileMode) error {
	return p.meta(op, name, true, true, func(m metaFile) error { return m.Chmod(mode) })
}

// Chown changes the owner of name; -1 leaves an id as it is. With
// follow false a final symlink itself changes.
func (p *Policy) Chown(op, name string, uid, gid int, follow bool) error {
	return p.meta(op, name, follow, true, func(m metaFile) error { return m.Chown(uid, gid) })
}

// Chtimes changes the access and modification times of name.
func (p *Policy) Chtimes(op, name string, atime, mtime time.Time) error {
	return p.meta(op, name, true, false, func(m metaFile) error { return m.Chtimes(atime, mtime) })
}

// Truncate changes the size of the regular file name.
func (p *Policy) Truncate(op, name string, size int64) error {
	f, err := p.Open(op, name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fail(op, name, err)
	}
	return f.Close()
}

// MkdirAll makes the directory name and any missing parents.
func (p *Policy) MkdirAll(op, name string, perm fs.FileMode) error {
	rel, err := p.resolve(op, name)
	if err == nil {
		err = p.Writable(op, name)
	}
	if err != nil {
		return err
	}
	if err := p.tree.MkdirAll(rel, perm); err != nil {
		return fail(op, name, err)
	}
	return nil
}

// OpenRoot opens the directory name as an os.Root, for walking or
// extracting a tree beneath it.
func (p *Policy) OpenRoot(op, name string) (*os.Root, error) {
	rel, err := p.resolve(op, name)
	if err != nil {
		return nil, err
	}
	r, err := p.tree.OpenRoot(rel)
	if err != nil {
		return nil, fail(op, name, err)
	}
	return r, nil
}
