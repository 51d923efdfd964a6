package hgfs

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/guestrpc/guestrpc/files"
)

// zeroSizeReadMax caps how much of a file that reports size 0 is read
// to learn its real size (files in /proc, /sys).
const zeroSizeReadMax = 64 << 20

// FileSystemHandler serves the guest's files by path under a file
// policy: the default handler for plain names.
type FileSystemHandler struct {
	pol *files.Policy
}

// NewFileSystemHandler returns a handler that opens, describes and
// changes files as pol allows.
func NewFileSystemHandler(pol *files.Policy) *FileSystemHandler { return &FileSystemHandler{pol: pol} }

// Stat describes the file at u.Path. A regular file that reports size 0
// is read (up to 64 MiB, until ctx ends) so that its real size is
// returned: the VMX sends that many bytes.
func (h *FileSystemHandler) Stat(ctx context.Context, u *url.URL) (fs.FileInfo, error) {
	fi, err := h.pol.Stat("hgfs getattr", u.Path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		return fi, err
	}
	f, err := h.pol.Open("hgfs getattr", u.Path, os.O_RDONLY, 0)
	if err != nil {
		return fi, nil // unreadable: its size stays what stat said
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for n < zeroSizeReadMax {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := f.Read(buf)
		n += int64(m)
		if err != nil {
			break
		}
	}
	return sizedInfo{fi, min(n, zeroSizeReadMax)}, nil
}

// sizedInfo overrides a FileInfo's size.
type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }

// Open opens u.Path as the request asks.
func (h *FileSystemHandler) Open(_ context.Context, u *url.URL, req OpenRequest) (File, error) {
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
	f, err := h.pol.Open("hgfs open", u.Path, flag, req.Perm)
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
func (h *FileSystemHandler) Setattr(_ context.Context, u *url.URL, a Attr) error {
	const op = "hgfs setattr"
	var errs []error
	if a.Size != nil {
		errs = append(errs, h.pol.Truncate(op, u.Path, *a.Size))
	}
	if a.UID != nil || a.GID != nil {
		uid, gid := -1, -1
		if a.UID != nil {
			uid = *a.UID
		}
		if a.GID != nil {
			gid = *a.GID
		}
		errs = append(errs, h.pol.Chown(op, u.Path, uid, gid, true))
	}
	if a.Mode != nil { // after chown, which clears setuid and setgid
		errs = append(errs, h.pol.Chmod(op, u.Path, *a.Mode))
	}
	if a.Atime != nil && a.Mtime != nil {
		errs = append(errs, h.pol.Chtimes(op, u.Path, *a.Atime, *a.Mtime))
	}
	return errors.Join(errs...)
}

// ArchiveHandler serves directories as tar streams under a file policy:
// reading "archive:/dir" yields /dir as tar.gz ("?format=tar" for plain
// tar), and writing one extracts the stream into /dir, creating it
// (setuid and setgid bits cleared).
type ArchiveHandler struct {
	log *slog.Logger
	pol *files.Policy
}

// NewArchiveHandler returns the "archive" scheme handler; log may be nil.
func NewArchiveHandler(log *slog.Logger, pol *files.Policy) *ArchiveHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ArchiveHandler{log: log, pol: pol}
}

func gzipped(u *url.URL) bool { return u.Query().Get("format") != "tar" }

// Stat describes the archive of u.Path as a regular file of size 0: its
// size is unknown until it is built, which Stat never does (it could
// take minutes); readers read until a short read.
func (h *ArchiveHandler) Stat(_ context.Context, u *url.URL) (fs.FileInfo, error) {
	fi, err := h.pol.Stat("hgfs getattr", u.Path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, failf(StatusNotDirectory, "archive %s: not a directory", u.Path)
	}
	return archiveInfo{name: fi.Name(), mtime: fi.ModTime()}, nil
}

type archiveInfo struct {
	name  string
	mtime time.Time
}

func (a archiveInfo) Name() string       { return a.name }
func (a archiveInfo) Size() int64        { return 0 }
func (a archiveInfo) Mode() fs.FileMode  { return 0o600 }
func (a archiveInfo) ModTime() time.Time { return a.mtime }
func (a archiveInfo) IsDir() bool        { return false }
func (a archiveInfo) Sys() any           { return nil }

// Open starts streaming the archive out of (read) or into (write)
// u.Path, in a goroutine that ends when the File is closed.
func (h *ArchiveHandler) Open(_ context.Context, u *url.URL, req OpenRequest) (File, error) {
	const op = "hgfs open"
	switch req.Mode {
	case OpenModeReadOnly:
		root, err := h.pol.OpenRoot(op, u.Path)
		if err != nil {
			return nil, err
		}
		return startArchive(true, func(ctx context.Context, a *archiveFile) error {
			defer root.Close()
			_, err := files.WriteArchive(ctx, a.writer(ctx), root, files.ArchiveOptions{Gzip: gzipped(u)})
			return err
		}), nil
	case OpenModeWriteOnly:
		if err := h.pol.MkdirAll(op, u.Path, 0o755); err != nil {
			return nil, err
		}
		root, err := h.pol.OpenRoot(op, u.Path)
		if err != nil {
			return nil, err
		}
		return startArchive(false, func(ctx context.Context, a *archiveFile) error {
			defer root.Close()
			_, err := files.ExtractArchive(ctx, a.reader(ctx), root, files.ExtractOptions{Gzip: gzipped(u), Logger: h.log})
			return err
		}), nil
	}
	return nil, failf(StatusInvalidParameter, "archive %s: open for reading or for writing, not both", u.Path)
}
