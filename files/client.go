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
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Client calls the file.* methods of an agent.
type Client struct {
	c *rpc.Client
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Stat describes the file at path, following symlinks.
func (c *Client) Stat(ctx context.Context, path string) (*FileInfo, error) {
	var fi FileInfo
	if err := c.c.Call(ctx, "file.stat", StatRequest{Path: path}, &fi); err != nil {
		return nil, err
	}
	return &fi, nil
}

// Lstat describes the file at path; a symlink is described itself.
func (c *Client) Lstat(ctx context.Context, path string) (*FileInfo, error) {
	var fi FileInfo
	if err := c.c.Call(ctx, "file.stat", StatRequest{Path: path, Lstat: true}, &fi); err != nil {
		return nil, err
	}
	return &fi, nil
}

// List returns the entries of the directory path, in directory order.
func (c *Client) List(ctx context.Context, path string) ([]FileInfo, error) {
	var all []FileInfo
	err := c.ListFunc(ctx, path, 0, func(page []FileInfo) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// ListFunc calls fn with each page (at most pageSize entries; 0 for the
// agent's default) of the directory path, as the pages arrive. An error
// from fn stops the listing and is returned.
func (c *Client) ListFunc(ctx context.Context, path string, pageSize int, fn func([]FileInfo) error) error {
	s, release, err := c.open(ctx, "file.list", ListRequest{Path: path, PageSize: pageSize})
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

// Mkdir makes the directory path with mode (0 for 0755); parents makes
// missing parents too and accepts an existing directory.
func (c *Client) Mkdir(ctx context.Context, path string, mode fs.FileMode, parents bool) error {
	return c.c.Call(ctx, "file.mkdir", MkdirRequest{Path: path, Mode: mode, Parents: parents}, nil)
}

// Remove removes a file or an empty directory; recursive removes a
// directory with everything in it.
func (c *Client) Remove(ctx context.Context, path string, recursive bool) error {
	return c.c.Call(ctx, "file.remove", RemoveRequest{Path: path, Recursive: recursive}, nil)
}

// Rename moves from to to; without overwrite an existing to fails with
// AlreadyExists.
func (c *Client) Rename(ctx context.Context, from, to string, overwrite bool) error {
	return c.c.Call(ctx, "file.rename", RenameRequest{From: from, To: to, Overwrite: overwrite}, nil)
}

// Chmod sets the mode of path.
func (c *Client) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	return c.c.Call(ctx, "file.chmod", ChmodRequest{Path: path, Mode: mode}, nil)
}

// Chown sets the owner of path (following symlinks); -1 keeps an id.
func (c *Client) Chown(ctx context.Context, path string, uid, gid int) error {
	return c.c.Call(ctx, "file.chown", ChownRequest{Path: path, UID: uid, GID: gid}, nil)
}

// Chtimes sets the access and modification times of path.
func (c *Client) Chtimes(ctx context.Context, path string, atime, mtime time.Time) error {
	return c.c.Call(ctx, "file.chtimes", ChtimesRequest{Path: path, Atime: atime, Mtime: mtime}, nil)
}

// MkTemp makes a new, uniquely named file or directory and returns its
// guest path.
func (c *Client) MkTemp(ctx context.Context, req MkTempRequest) (string, error) {
	var res MkTempResult
	if err := c.c.Call(ctx, "file.mktemp", req, &res); err != nil {
		return "", err
	}
	return res.Path, nil
}

// Upload streams r to guestPath. With opts.Checksum the agent commits
// only when its sha256 of the received bytes equals the client's.
func (c *Client) Upload(ctx context.Context, r io.Reader, guestPath string, opts WriteOptions) (*WriteResult, error) {
	s, release, err := c.open(ctx, "file.write", WriteRequest{Path: guestPath, WriteOptions: opts})
	if err != nil {
		return nil, err
	}
	defer release()
	var h hash.Hash
	if opts.Checksum {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	buf := make([]byte, bufSize)
	var sent int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				if err := s.Wait(nil); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("files: upload %q: %w", guestPath, werr)
			}
			sent += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			// Close cancels the call: the agent drops its temporary file.
			return nil, fmt.Errorf("files: upload %q: reading the source: %w", guestPath, rerr)
		}
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
	s, release, err := c.open(ctx, "file.read", ReadRequest{Path: guestPath, ReadOptions: opts})
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

// pump copies r to w with a large buffer and tells a failed read from a
// failed write: the caller of a stream must react differently to each.
func pump(w io.Writer, r io.Reader) (n int64, rerr, werr error) {
	if wt, ok := r.(io.WriterTo); ok {
		// The stream hands its received buffers straight to w.
		ew := &errWriter{w: w}
		n, rerr = wt.WriteTo(ew)
		if ew.err != nil {
			return n, nil, ew.err
		}
		return n, rerr, nil
	}
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

// ArchiveGet streams the guest directory dir into w as a tar (gzip when
// gz).
func (c *Client) ArchiveGet(ctx context.Context, dir string, w io.Writer, gz bool) (*ArchiveResult, error) {
	s, release, err := c.open(ctx, "file.archive", ArchiveRequest{Path: dir, Op: "get", Gzip: gz})
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

// ArchivePut extracts the tar stream r (gzip when gz) into the guest
// directory dir, creating it if missing. Setuid and setgid bits are
// cleared (see ArchivePutWith).
func (c *Client) ArchivePut(ctx context.Context, r io.Reader, dir string, gz bool) (*ArchiveResult, error) {
	return c.ArchivePutWith(ctx, r, ArchiveRequest{Path: dir, Gzip: gz})
}

// ArchivePutWith is ArchivePut with every field of the request; Op is
// set to "put".
func (c *Client) ArchivePutWith(ctx context.Context, r io.Reader, req ArchiveRequest) (*ArchiveResult, error) {
	req.Op = "put"
	dir := req.Path
	s, release, err := c.open(ctx, "file.archive", req)
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
