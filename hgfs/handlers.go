package hgfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/files"
)

// zeroSizeReadMax caps how much of a file that reports size 0 is read
// to learn its real size (files in /proc, /sys).
const zeroSizeReadMax = 64 << 20

// FileSystemHandler serves the guest's files by path: the default
// handler for plain names.
type FileSystemHandler struct{}

// Stat describes the file at u.Path. A regular file that reports size 0
// is read (up to 64 MiB) so that its real size is returned: the VMX
// sends that many bytes.
func (FileSystemHandler) Stat(u *url.URL) (fs.FileInfo, error) {
	fi, err := os.Stat(u.Path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		return fi, err
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return fi, nil // unreadable: its size stays what stat said
	}
	defer f.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(f, zeroSizeReadMax))
	return sizedInfo{fi, n}, nil
}

// sizedInfo overrides a FileInfo's size.
type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }

// Open opens u.Path as the request asks.
func (FileSystemHandler) Open(u *url.URL, req OpenRequest) (File, error) {
	flag := os.O_RDONLY
	switch req.Mode {
	case OpenModeWriteOnly:
		flag = os.O_WRONLY
	case OpenModeReadWrite:
		flag = os.O_RDWR
	}
	switch req.Flags {
	case OpenFlagOpenEmpty:
		flag |= os.O_TRUNC
	case OpenFlagCreate:
		flag |= os.O_CREATE
	case OpenFlagCreateSafe:
		flag |= os.O_CREATE | os.O_EXCL
	case OpenFlagCreateEmpty:
		flag |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(u.Path, flag, req.Perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, failf(StatusInvalidParameter, "open %s: is a directory (use archive:)", u.Path)
	}
	return f, nil
}

// Setattr changes the attributes of u.Path.
func (FileSystemHandler) Setattr(u *url.URL, a Attr) error {
	var errs []error
	if a.Size != nil {
		errs = append(errs, os.Truncate(u.Path, *a.Size))
	}
	if a.UID != nil || a.GID != nil {
		uid, gid := -1, -1
		if a.UID != nil {
			uid = *a.UID
		}
		if a.GID != nil {
			gid = *a.GID
		}
		errs = append(errs, os.Chown(u.Path, uid, gid))
	}
	if a.Mode != nil { // after chown, which clears setuid and setgid
		errs = append(errs, os.Chmod(u.Path, *a.Mode))
	}
	if a.Atime != nil && a.Mtime != nil {
		errs = append(errs, os.Chtimes(u.Path, *a.Atime, *a.Mtime))
	}
	return errors.Join(errs...)
}

// ArchiveHandler serves directories as tar streams: reading
// "archive:/dir" yields /dir as tar.gz ("?format=tar" for plain tar),
// and writing one extracts the stream into /dir, creating it.
type ArchiveHandler struct {
	log *slog.Logger
}

// NewArchiveHandler returns the "archive" scheme handler; log may be nil.
func NewArchiveHandler(log *slog.Logger) *ArchiveHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ArchiveHandler{log: log}
}

func gzipped(u *url.URL) bool { return u.Query().Get("format") != "tar" }

// Stat describes the archive of u.Path as a regular file whose size is
// that of the archive (which it builds once to count).
func (h *ArchiveHandler) Stat(u *url.URL) (fs.FileInfo, error) {
	fi, err := os.Stat(u.Path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, failf(StatusNotDirectory, "archive %s: not a directory", u.Path)
	}
	root, err := os.OpenRoot(u.Path)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	res, err := files.WriteArchive(context.Background(), io.Discard, root, gzipped(u))
	if err != nil {
		return nil, err
	}
	return archiveInfo{name: fi.Name(), size: res.Bytes, mtime: fi.ModTime()}, nil
}

type archiveInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (a archiveInfo) Name() string       { return a.name }
func (a archiveInfo) Size() int64        { return a.size }
func (a archiveInfo) Mode() fs.FileMode  { return 0o600 }
func (a archiveInfo) ModTime() time.Time { return a.mtime }
func (a archiveInfo) IsDir() bool        { return false }
func (a archiveInfo) Sys() any           { return nil }

// Open starts streaming the archive out of (read) or into (write)
// u.Path.
func (h *ArchiveHandler) Open(u *url.URL, req OpenRequest) (File, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	a := &archiveFile{cancel: cancel, done: make(chan struct{})}
	var root *os.Root
	var err error
	switch req.Mode {
	case OpenModeReadOnly:
		if root, err = os.OpenRoot(u.Path); err != nil {
			cancel()
			return nil, err
		}
		a.r, a.closer = pr, pr
		go func() {
			defer close(a.done)
			defer root.Close()
			_, err := files.WriteArchive(ctx, pw, root, gzipped(u))
			pw.CloseWithError(err)
		}()
	case OpenModeWriteOnly:
		if err = os.MkdirAll(u.Path, 0o755); err == nil {
			root, err = os.OpenRoot(u.Path)
		}
		if err != nil {
			cancel()
			return nil, err
		}
		a.w, a.closer = pw, pw
		go func() {
			defer close(a.done)
			defer root.Close()
			_, err := files.ExtractArchive(ctx, pr, root, gzipped(u), h.log)
			a.setErr(err)
			pr.CloseWithError(err)
		}()
	default:
		cancel()
		return nil, failf(StatusInvalidParameter, "archive %s: open for reading or for writing, not both", u.Path)
	}
	return a, nil
}

// archiveFile is one side of a pipe to a goroutine that writes or reads
// the tar stream.
type archiveFile struct {
	r      io.Reader
	w      io.Writer
	closer io.Closer
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

func (a *archiveFile) setErr(err error) {
	a.mu.Lock()
	a.err = err
	a.mu.Unlock()
}

func (a *archiveFile) Read(p []byte) (int, error) {
	if a.r == nil {
		return 0, fmt.Errorf("archive: %w: opened for writing", errors.ErrUnsupported)
	}
	return a.r.Read(p)
}

func (a *archiveFile) Write(p []byte) (int, error) {
	if a.w == nil {
		return 0, fmt.Errorf("archive: %w: opened for reading", errors.ErrUnsupported)
	}
	return a.w.Write(p)
}

// Close ends the stream. For a write it waits for the extraction and
// returns its error.
func (a *archiveFile) Close() error {
	err := a.closer.Close()
	if a.w == nil {
		a.cancel() // a reader that stops early abandons the archive
	}
	<-a.done
	a.cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	return err
}
