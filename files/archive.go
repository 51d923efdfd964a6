package files

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

func (s *Service) archive(ctx context.Context, call *rpc.Request) (any, error) {
	const op = methodArchive
	var req archiveRequest
	if err := call.DecodeArgs(&req); err != nil {
		return nil, err
	}
	rel, err := s.rel(op, req.Path)
	if err != nil {
		return nil, err
	}
	switch req.Op {
	case "get":
		root, err := s.pol.tree.OpenRoot(rel)
		if err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		defer root.Close()
		res, err := WriteArchive(ctx, call, root, ArchiveOptions{Gzip: req.Gzip})
		if err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		return res, nil
	case "put":
		if err := s.writable(op, req.Path); err != nil {
			return nil, err
		}
		if err := s.pol.tree.MkdirAll(rel, 0o755); err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		root, err := s.pol.tree.OpenRoot(rel)
		if err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		defer root.Close()
		res, err := ExtractArchive(ctx, call, root, ExtractOptions{Gzip: req.Gzip, KeepSetuid: req.KeepSetuid, Logger: s.log})
		if err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		return res, nil
	}
	return nil, rpc.Errorf(rpc.InvalidArgument, "%s %q: op %q: want get or put", op, req.Path, req.Op)
}

// WriteArchive writes the tree under root to w as a tar stream (a
// tar.gz with opts.Gzip), keeping modes, owners, times and symlinks.
// Symlinks are stored, never followed. opts.KeepSetuid has no effect:
// the archive always records the bits.
func WriteArchive(ctx context.Context, w io.Writer, root *os.Root, opts ArchiveOptions) (ArchiveResult, error) {
	var res ArchiveResult
	cw := &countWriter{w: w}
	out := io.Writer(cw)
	var zw *gzip.Writer
	if opts.Gzip {
		zw = gzip.NewWriter(cw)
		out = zw
	}
	tw := tar.NewWriter(out)
	err := fs.WalkDir(root.FS(), ".", func(name string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = root.Readlink(name); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		hdr.Name = name
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		res.Entries++
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := root.OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.CopyN(tw, f, hdr.Size)
		if err != nil {
			return fmt.Errorf("%s: %d of %d bytes: %w", name, n, hdr.Size, err)
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	res.Bytes = cw.n
	return res, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ExtractOptions tune ExtractArchive.
type ExtractOptions struct {
	// Gzip: the stream is a tar.gz rather than a plain tar.
	Gzip bool
	// KeepSetuid keeps the setuid and setgid bits of entries; by default
	// they are cleared, so that unpacking a stranger's tarball as root
	// does not install setuid-root programs. The sticky bit is kept: it
	// grants nothing.
	KeepSetuid bool
	// Logger receives skipped entries; nil is silent.
	Logger *slog.Logger
}

// ExtractArchive unpacks the tar stream r (a tar.gz with opts.Gzip)
// under root. Entries cannot leave root: a name with ".." or a path
// through a symlink fails, and no change follows a symlink an entry
// made. Modes (less setuid and setgid unless opts.KeepSetuid) and times
// are restored; owners too when the process runs as root. Sparse
// entries are refused (their holes would expand a small stream without
// bound). Extraction is not atomic: a cut stream leaves the entries
// that arrived.
func ExtractArchive(ctx context.Context, r io.Reader, root *os.Root, opts ExtractOptions) (ArchiveResult, error) {
	x := &extractor{root: root, opts: opts, log: opts.Logger, chown: os.Geteuid() == 0}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	cr := &countReader{r: r}
	in := io.Reader(cr)
	if opts.Gzip {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			return x.res, fmt.Errorf("archive: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	tr := tar.NewReader(in)
	for {
		if err := ctx.Err(); err != nil {
			return x.res, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return x.res, fmt.Errorf("archive: entry %d: %w", x.res.Entries+1, err)
		}
		if err := x.entry(tr, hdr); err != nil {
			return x.res, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
	}
	err := x.finishDirs()
	x.res.Bytes = cr.n
	return x.res, err
}

// extractor is the state of one extraction.
type extractor struct {
	root  *os.Root
	opts  ExtractOptions
	log   *slog.Logger
	chown bool
	dirs  []dirTimes
	res   ArchiveResult
}

type dirTimes struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
	atime time.Time
}

// errSparse refuses a sparse entry.
var errSparse = errors.New("sparse entries are not supported")

// entry extracts one entry.
func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
	if name == "." {
		return nil
	}
	if !fs.ValidPath(name) {
		return errEscapes
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errSparse
		}
	}
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	mode := hdr.FileInfo().Mode()
	if !x.opts.KeepSetuid {
		mode &^= fs.ModeSetuid | fs.ModeSetgid
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		x.dirs = append(x.dirs, dirTimes{name, mode, hdr.ModTime, hdr.AccessTime})
	case tar.TypeReg:
		if err := extractFile(x.root, name, tr, mode, hdr, x.chown); err != nil {
			return err
		}
		x.res.Entries++
		return nil
	case tar.TypeSymlink:
		_ = x.root.Remove(name)
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
	case tar.TypeLink:
		target := path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
		if !fs.ValidPath(target) {
			return fmt.Errorf("link to %q: %w", hdr.Linkname, errEscapes)
		}
		_ = x.root.Remove(name)
		if err := x.root.Link(target, name); err != nil {
			return err
		}
		x.res.Entries++
		return nil // a hard link shares its target's owner: no chown
	default:
		x.log.Warn("archive: skipping entry of unsupported type", "name", hdr.Name, "type", string(hdr.Typeflag))
		return nil
	}
	if x.chown {
		if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			x.log.Warn("archive: setting owner", "name", hdr.Name, "error", err)
		}
	}
	x.res.Entries++
	return nil
}

// finishDirs sets the modes and times of directories last, deepest
// first, so that adding their entries did not move their times and a
// read-only mode does not stop them. A directory that a later entry
// replaced (with a symlink, say) is left alone.
func (x *extractor) finishDirs() error {
	for _, d := range slices.Backward(x.dirs) {
		f, err := x.root.OpenFile(d.name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			x.log.Warn("archive: directory replaced by a later entry", "name", d.name, "error", err)
			continue
		}
		err = f.Chmod(d.mode)
		f.Close()
		if err == nil {
			err = x.root.Chtimes(d.name, orNow(d.atime, d.mtime), d.mtime)
		}
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", d.name, err)
		}
	}
	return nil
}

func extractFile(root *os.Root, name string, r io.Reader, mode fs.FileMode, hdr *tar.Header, chown bool) error {
	if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
		if err := root.Remove(name); err != nil {
			return err
		}
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(struct{ io.Writer }{f}, r); err != nil {
		return err
	}
	if chown {
		_ = f.Chown(hdr.Uid, hdr.Gid) // before Chmod, which chown would undo
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return root.Chtimes(name, orNow(hdr.AccessTime, hdr.ModTime), hdr.ModTime)
}

// orNow returns t, or fallback when t is zero.
func orNow(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
