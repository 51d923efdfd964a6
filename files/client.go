package files

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Client calls the file.* methods of an agent. Its metadata methods
// mirror package os, with a context first; errors are *rpc.Error values
// that errors.Is matches against fs.ErrNotExist, fs.ErrExist and
// fs.ErrPermission. It is safe for concurrent use.
type Client struct {
	c *rpc.Client
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Stat describes the file at path, following symlinks, as os.Stat.
func (c *Client) Stat(ctx context.Context, path string) (*FileInfo, error) {
	var fi FileInfo
	if err := c.c.Call(ctx, methodStat, statRequest{Path: path}, &fi); err != nil {
		return nil, err
	}
	return &fi, nil
}

// Lstat describes the file at path; a symlink is described itself, as
// os.Lstat.
func (c *Client) Lstat(ctx context.Context, path string) (*FileInfo, error) {
	var fi FileInfo
	if err := c.c.Call(ctx, methodStat, statRequest{Path: path, Lstat: true}, &fi); err != nil {
		return nil, err
	}
	return &fi, nil
}

// List returns the entries of the directory path in directory order
// (unsorted), each described as Lstat describes it.
func (c *Client) List(ctx context.Context, path string) ([]FileInfo, error) {
	var all []FileInfo
	err := c.ListFunc(ctx, path, 0, func(page []FileInfo) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// ListFunc calls fn with each page (at most pageSize entries; 0 for the
// agent's default) of the directory path, as the pages arrive, so that
// a huge directory is never held whole. An error from fn stops the
// listing and is returned.
func (c *Client) ListFunc(ctx context.Context, path string, pageSize int, fn func([]FileInfo) error) error {
	s, release, err := c.open(ctx, methodList, listRequest{Path: path, PageSize: pageSize})
	if err != nil {
		return err
	}
	defer release()
	if err := s.CloseWrite(); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReaderSize(s, 64<<10))
	for {
		var page []FileInfo
		err := dec.Decode(&page)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if werr := s.Wait(nil); werr != nil {
				return werr
			}
			return fmt.Errorf("files: list %q: decoding a page: %w", path, err)
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return s.Wait(nil)
}

// Mkdir makes the directory path with permission bits perm (0 for
// 0755), as os.Mkdir: an existing path fails with AlreadyExists and a
// missing parent with NotFound.
func (c *Client) Mkdir(ctx context.Context, path string, perm fs.FileMode) error {
	return c.c.Call(ctx, methodMkdir, mkdirRequest{Path: path, Mode: perm}, nil)
}

// MkdirAll makes the directory path and any missing parents with
// permission bits perm (0 for 0755), as os.MkdirAll: an existing
// directory is no error.
func (c *Client) MkdirAll(ctx context.Context, path string, perm fs.FileMode) error {
	return c.c.Call(ctx, methodMkdir, mkdirRequest{Path: path, Mode: perm, Parents: true}, nil)
}

// Remove removes a file or an empty directory, as os.Remove; a
// directory that is not empty fails with FailedPrecondition.
func (c *Client) Remove(ctx context.Context, path string) error {
	return c.c.Call(ctx, methodRemove, removeRequest{Path: path}, nil)
}

// RemoveAll removes path and everything in it, as os.RemoveAll: a path
// that does not exist is no error. Symlinks are removed, never
// followed; the root of the agent's files is never removed.
func (c *Client) RemoveAll(ctx context.Context, path string) error {
	err := c.c.Call(ctx, methodRemove, removeRequest{Path: path, Recursive: true}, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Rename moves oldpath to newpath, replacing an existing newpath as
// os.Rename does (a non-empty directory is never replaced).
func (c *Client) Rename(ctx context.Context, oldpath, newpath string) error {
	return c.c.Call(ctx, methodRename, renameRequest{From: oldpath, To: newpath, Overwrite: true}, nil)
}

// RenameNoReplace moves oldpath to newpath unless newpath exists, which
// fails with AlreadyExists (errors.Is fs.ErrExist) and leaves both as
// they were. The agent checks and renames in one step
// (renameat2 RENAME_NOREPLACE) where its kernel and file system can, so
// that of several renames racing to one newpath exactly one wins; on
// other systems a newpath created between its check and its rename is
// replaced.
func (c *Client) RenameNoReplace(ctx context.Context, oldpath, newpath string) error {
	return c.c.Call(ctx, methodRename, renameRequest{From: oldpath, To: newpath}, nil)
}

// Chmod sets the mode of path, following symlinks, as os.Chmod.
func (c *Client) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	return c.c.Call(ctx, methodChmod, chmodRequest{Path: path, Mode: mode}, nil)
}

// Chown sets the owner of path, following symlinks, as os.Chown; -1
// keeps an id.
func (c *Client) Chown(ctx context.Context, path string, uid, gid int) error {
	return c.c.Call(ctx, methodChown, chownRequest{Path: path, UID: uid, GID: gid}, nil)
}

// Lchown sets the owner of path as os.Lchown does: a symlink's own,
// never the file it points to; -1 keeps an id.
func (c *Client) Lchown(ctx context.Context, path string, uid, gid int) error {
	return c.c.Call(ctx, methodChown, chownRequest{Path: path, UID: uid, GID: gid, Lchown: true}, nil)
}

// Chtimes sets the access and modification times of path, as
// os.Chtimes.
func (c *Client) Chtimes(ctx context.Context, path string, atime, mtime time.Time) error {
	return c.c.Call(ctx, methodChtimes, chtimesRequest{Path: path, Atime: atime, Mtime: mtime}, nil)
}

// CreateTemp makes a new, empty file (mode 0600) in the guest directory
// dir and returns its guest path, as os.CreateTemp names it: the last
// "*" in pattern is replaced by a random string, which is appended when
// there is no "*". An empty dir is the guest's temporary directory (or,
// when the agent confines files to a root, the root). A pattern holding
// a path separator fails with InvalidArgument.
func (c *Client) CreateTemp(ctx context.Context, dir, pattern string) (string, error) {
	return c.mkTemp(ctx, dir, pattern, false)
}

// MkdirTemp makes a new directory (mode 0700) in the guest directory
// dir and returns its guest path; dir and pattern are as for
// CreateTemp, as os.MkdirTemp takes them.
func (c *Client) MkdirTemp(ctx context.Context, dir, pattern string) (string, error) {
	return c.mkTemp(ctx, dir, pattern, true)
}

func (c *Client) mkTemp(ctx context.Context, dir, pattern string, directory bool) (string, error) {
	req := mkTempRequest{Dir: dir, Prefix: pattern, Directory: directory}
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		req.Prefix, req.Suffix = pattern[:i], pattern[i+1:]
	}
	var res mkTempResult
	if err := c.c.Call(ctx, methodMkTemp, req, &res); err != nil {
		return "", err
	}
	return res.Path, nil
}

// Upload streams r to guestPath. With opts.Checksum the agent commits
// only when its sha256 of the received bytes equals the client's.
func (c *Client) Upload(ctx context.Context, r io.Reader, guestPath string, opts WriteOptions) (*WriteResult, error) {
	s, release, err := c.open(ctx, methodWrite, writeRequest{Path: guestPath, WriteOptions: opts})
	if err != nil {
		return nil, err
	}
	defer release()
	var h hash.Hash
	if opts.Checksum {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	sent, rerr, werr := push(s, r)
	if werr != nil {
		if err := s.Wait(nil); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("files: upload %q: %w", guestPath, werr)
	}
	if rerr != nil {
		// Close cancels the call: the agent drops its temporary file.
		return nil, fmt.Errorf("files: upload %q: reading the source: %w", guestPath, rerr)
	}
	if err := ctx.Err(); err != nil {
		// Canceled while the source was read: the CANCEL that open's
		// watcher sends could reach the agent after the end of the
		// request below, which commits the file.
		s.CloseWithError(err)
		return nil, waitOr(s, err)
	}
	var sum string
	if h != nil {
		sum = hex.EncodeToString(h.Sum(nil))
		if _, err := s.LaneWriter(checksumLane).Write([]byte(sum)); err != nil {
			return nil, waitOr(s, err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		return nil, waitOr(s, err)
	}
	var res WriteResult
	if err := s.Wait(&res); err != nil {
		return nil, err
	}
	if res.Size != sent {
		return &res, rpc.Errorf(rpc.DataLoss, "upload %q: sent %d bytes, agent wrote %d", guestPath, sent, res.Size)
	}
	if h != nil && res.SHA256 != sum {
		return &res, rpc.Errorf(rpc.DataLoss, "upload %q: sha256 %s sent, agent reports %s", guestPath, sum, res.SHA256)
	}
	return &res, nil
}

// waitOr returns the call's final error, or err when the call succeeded.
func waitOr(s *rpc.Stream, err error) error {
	if werr := s.Wait(nil); werr != nil {
		return werr
	}
	return err
}

// Download streams guestPath (from opts.Offset, opts.Length bytes or to
// the end) into w. With opts.Checksum it verifies the agent's sha256 of
// what it sent against the bytes received.
func (c *Client) Download(ctx context.Context, guestPath string, w io.Writer, opts ReadOptions) (*ReadResult, error) {
	s, release, err := c.open(ctx, methodRead, readRequest{Path: guestPath, ReadOptions: opts})
	if err != nil {
		return nil, err
	}
	defer release()
	if err := s.CloseWrite(); err != nil {
		return nil, waitOr(s, err)
	}
	var h hash.Hash
	if opts.Checksum {
		h = sha256.New()
		w = io.MultiWriter(w, h)
	}
	n, rerr, werr := pump(w, s)
	if werr != nil {
		return nil, fmt.Errorf("files: download %q: writing: %w", guestPath, werr)
	}
	if rerr != nil {
		return nil, waitOr(s, fmt.Errorf("files: download %q: %w", guestPath, rerr))
	}
	var res ReadResult
	if err := s.Wait(&res); err != nil {
		return nil, err
	}
	if res.Size != n {
		return &res, rpc.Errorf(rpc.DataLoss, "download %q: agent sent %d bytes, %d arrived", guestPath, res.Size, n)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != res.SHA256 {
			return &res, rpc.Errorf(rpc.DataLoss, "download %q: sha256 %s received, agent sent %s", guestPath, got, res.SHA256)
		}
	}
	return &res, nil
}

// push copies r to w, the stream of an upload, and tells a failed read
// from a failed write. An in-memory reader (bytes.Reader, bytes.Buffer,
// strings.Reader) hands its bytes to w without a copy into a buffer of
// ours; anything else is read into a large buffer, so that it goes out
// in large DATA frames.
func push(w io.Writer, r io.Reader) (n int64, rerr, werr error) {
	if wt, ok := r.(interface {
		io.WriterTo
		Len() int
	}); ok {
		return writeTo(w, wt)
	}
	return copyBuffered(w, r)
}

// pump copies r to w with a large buffer and tells a failed read from a
// failed write: the caller of a stream must react differently to each.
func pump(w io.Writer, r io.Reader) (n int64, rerr, werr error) {
	if wt, ok := r.(io.WriterTo); ok {
		// The stream hands its received buffers straight to w.
		return writeTo(w, wt)
	}
	return copyBuffered(w, r)
}

// writeTo lets wt write itself to w, telling w's failure from wt's.
func writeTo(w io.Writer, wt io.WriterTo) (n int64, rerr, werr error) {
	ew := &errWriter{w: w}
	n, rerr = wt.WriteTo(ew)
	if ew.err != nil {
		return n, nil, ew.err
	}
	return n, rerr, nil
}

// copyBuffered copies r to w through a bufSize buffer.
func copyBuffered(w io.Writer, r io.Reader) (n int64, rerr, werr error) {
	buf := make([]byte, bufSize)
	for {
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr = w.Write(buf[:m]); werr != nil {
				return n, nil, werr
			}
			n += int64(m)
		}
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// errWriter remembers the error of its writer, to tell it apart from the
// reader's.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// ArchiveGet streams the guest directory dir into w as a tar (a tar.gz
// with opts.Gzip), keeping modes, owners, times and symlinks.
func (c *Client) ArchiveGet(ctx context.Context, dir string, w io.Writer, opts ArchiveOptions) (*ArchiveResult, error) {
	s, release, err := c.open(ctx, methodArchive, archiveRequest{Path: dir, Op: "get", Gzip: opts.Gzip})
	if err != nil {
		return nil, err
	}
	defer release()
	if err := s.CloseWrite(); err != nil {
		return nil, waitOr(s, err)
	}
	if _, rerr, werr := pump(w, s); werr != nil {
		return nil, fmt.Errorf("files: archive get %q: writing: %w", dir, werr)
	} else if rerr != nil {
		return nil, waitOr(s, fmt.Errorf("files: archive get %q: %w", dir, rerr))
	}
	var res ArchiveResult
	if err := s.Wait(&res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ArchivePut extracts the tar stream r (a tar.gz with opts.Gzip) into
// the guest directory dir, creating it if missing, as ExtractArchive
// does: setuid and setgid bits are cleared unless opts.KeepSetuid.
func (c *Client) ArchivePut(ctx context.Context, r io.Reader, dir string, opts ArchiveOptions) (*ArchiveResult, error) {
	req := archiveRequest{Path: dir, Op: "put", Gzip: opts.Gzip, KeepSetuid: opts.KeepSetuid}
	s, release, err := c.open(ctx, methodArchive, req)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, rerr, werr := pump(s, r); rerr != nil {
		return nil, fmt.Errorf("files: archive put %q: reading the archive: %w", dir, rerr)
	} else if werr != nil {
		return nil, waitOr(s, fmt.Errorf("files: archive put %q: %w", dir, werr))
	}
	if err := s.CloseWrite(); err != nil {
		return nil, waitOr(s, err)
	}
	var res ArchiveResult
	if err := s.Wait(&res); err != nil {
		return nil, err
	}
	return &res, nil
}

// open starts a streaming call that lives until ctx ends or the returned
// release is called, whichever comes first.
func (c *Client) open(ctx context.Context, method string, args any) (*rpc.Stream, func(), error) {
	s, err := c.c.Open(ctx, method, args)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.CloseWithError(ctx.Err()) })
	return s, func() { stop(); s.Close() }, nil
}
