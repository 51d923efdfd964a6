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
	"os"
	"path/filepath"

	"github.com/guestrpc/guestrpc/rpc"
)

// checksumLane carries the client's sha256 (hex) after a write's data.
const checksumLane rpc.Lane = 1

// defaultPageSize is the number of entries in one file.list page.
const defaultPageSize = 1000

func (s *Service) list(ctx context.Context, call *rpc.Request) (any, error) {
	const op = methodList
	var req listRequest
	if err := call.DecodeArgs(&req); err != nil {
		return nil, err
	}
	rel, err := s.rel(op, req.Path)
	if err != nil {
		return nil, err
	}
	if req.PageSize <= 0 || req.PageSize > 100_000 {
		req.PageSize = defaultPageSize
	}
	f, err := s.pol.Open(op, req.Path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, s.fail(op, req.Path, err)
	} else if !fi.IsDir() {
		return nil, rpc.Errorf(rpc.FailedPrecondition, "%s %q: not a directory", op, req.Path)
	}
	w := bufio.NewWriterSize(call, 64<<10)
	enc := json.NewEncoder(w)
	count := 0
	for {
		names, err := f.Readdirnames(req.PageSize)
		if len(names) > 0 {
			page := make([]FileInfo, 0, len(names))
			for _, name := range names {
				fi, lerr := s.pol.tree.Lstat(filepath.Join(rel, name))
				if lerr != nil {
					continue // removed while we listed
				}
				page = append(page, s.info(filepath.Join(rel, name), name, fi))
			}
			if err := enc.Encode(page); err != nil {
				return nil, s.fail(op, req.Path, err)
			}
			count += len(page)
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			break
		}
		if err != nil {
			return nil, s.fail(op, req.Path, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	return listResult{Count: count}, nil
}

// copyBuf copies with a pooled buffer, never handing the copy to a
// ReaderFrom or WriterTo (os.File's fall back to small buffers), except
// an rpc.Request's: as the source it hands over its received buffers
// without a copy, and as the destination of a file it splices the file
// into the socket. It fills the buffer before each write, so small DATA
// frames reach a file in fewer write calls.
func (s *Service) copyBuf(dst io.Writer, src io.Reader) (int64, error) {
	if c, ok := src.(*rpc.Request); ok {
		// Received DATA buffers (256 KiB frames) go to dst as they are.
		return c.WriteTo(dst)
	}
	if c, ok := dst.(*rpc.Request); ok && isFile(src) {
		// Files go to the socket by splice, without this copy.
		return c.ReadFrom(src)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			if _, err := dst.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return n, nil
		default:
			return n, rerr
		}
	}
}

// isFile reports whether r reads a file directly, which
// rpc.Request.ReadFrom can send without copying.
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

func (s *Service) read(ctx context.Context, call *rpc.Request) (any, error) {
	const op = methodRead
	var req readRequest
	if err := call.DecodeArgs(&req); err != nil {
		return nil, err
	}
	if req.Offset < 0 || req.Length < 0 {
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s %q: offset %d and length %d must not be negative", op, req.Path, req.Offset, req.Length)
	}
	f, err := s.pol.Open(op, req.Path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, s.fail(op, req.Path, err)
	} else if fi.IsDir() {
		return nil, rpc.Errorf(rpc.FailedPrecondition, "%s %q: is a directory (use file.archive)", op, req.Path)
	}
	if req.Offset > 0 {
		if _, err := f.Seek(req.Offset, io.SeekStart); err != nil {
			return nil, s.fail(op, req.Path, err)
		}
	}
	var r io.Reader = f
	if req.Length > 0 {
		r = io.LimitReader(f, req.Length)
	}
	var h hash.Hash
	if req.Checksum {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	n, err := s.copyBuf(call, r)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, s.fail(op, req.Path, err)
	}
	res := ReadResult{Size: n}
	if h != nil {
		res.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	s.log.Debug("file sent", "path", req.Path, "bytes", n)
	return res, nil
}

func (s *Service) write(ctx context.Context, call *rpc.Request) (any, error) {
	const op = methodWrite
	var req writeRequest
	if err := call.DecodeArgs(&req); err != nil {
		return nil, err
	}
	rel, err := s.rel(op, req.Path)
	if err == nil {
		err = s.writable(op, req.Path)
	}
	if err != nil {
		return nil, err
	}
	if rel == "." {
		return nil, rpc.Errorf(rpc.FailedPrecondition, "%s %q: is the root directory", op, req.Path)
	}
	switch req.Flag {
	case "":
		req.Flag = Overwrite
	case Overwrite, CreateOnly, Append:
	default:
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s %q: flag %q: want overwrite, create or append", op, req.Path, req.Flag)
	}
	if req.Parents {
		if err := s.pol.tree.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
			return nil, s.fail(op, req.Path, err)
		}
	}
	old, statErr := s.pol.tree.Lstat(rel)
	switch {
	case statErr == nil && old.IsDir():
		return nil, rpc.Errorf(rpc.FailedPrecondition, "%s %q: is a directory", op, req.Path)
	case statErr == nil && req.Flag == CreateOnly:
		return nil, rpc.Errorf(rpc.AlreadyExists, "%s %q: %w", op, req.Path, fs.ErrExist)
	case statErr != nil && !errors.Is(statErr, fs.ErrNotExist):
		return nil, s.fail(op, req.Path, statErr)
	}
	mode := req.Mode
	if mode == 0 {
		mode = 0o644
		if statErr == nil {
			mode = old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		}
	}
	var h hash.Hash
	var src io.Reader = call
	if req.Checksum {
		h = sha256.New()
		src = io.TeeReader(call, h)
	}
	if req.Flag == Append {
		return s.appendTo(ctx, call, req, mode, src, h)
	}
	return s.replace(ctx, call, req, rel, mode, replaced{old, statErr == nil}, src, h)
}

// replaced is the file a write replaces, if any.
type replaced struct {
	fi     fs.FileInfo
	exists bool
}

// replace writes the new contents beside the target and renames (or,
// for CreateOnly, links) them into place only when all arrived and are
// on disk: the target is always the old file or the new one, whole.
func (s *Service) replace(ctx context.Context, call *rpc.Request, req writeRequest, rel string, mode fs.FileMode, old replaced, src io.Reader, h hash.Hash) (any, error) {
	const op = methodWrite
	d, err := s.pol.tree.OpenDir(filepath.Dir(rel))
	if err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	defer d.Close()
	base := filepath.Base(rel)
	tmp, err := newPending(d, base)
	if err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	defer func() {
		if err := tmp.discard(); err != nil {
			s.log.Warn("files: removing temporary file", "path", req.Path, "temp", tmp.name, "error", err)
		}
	}()
	n, err := s.copyBuf(tmp.f, src)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, s.fail(op, req.Path, err)
	}
	res := WriteResult{Size: n}
	if h != nil {
		if res.SHA256, err = verifySum(op, req.Path, call, h); err != nil {
			return nil, err
		}
	}
	// Owner first: chown clears the setuid and setgid bits.
	if err := s.setOwner(tmp.f, req.WriteOptions, old.fi, old.exists); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	if err := tmp.f.Chmod(mode); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	if err := tmp.f.Sync(); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	if err := tmp.commit(base, req.Flag == CreateOnly); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	if err := d.Sync(); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	s.log.Debug("file written", "path", req.Path, "bytes", n)
	return res, nil
}

// verifySum reads the client's sum from the checksum lane (sent after
// the data) and compares it with h.
func verifySum(op, p string, call *rpc.Request, h hash.Hash) (string, error) {
	got := hex.EncodeToString(h.Sum(nil))
	want, err := io.ReadAll(io.LimitReader(call.LaneReader(checksumLane), 2*sha256.Size+1))
	if err != nil {
		return "", rpc.Errorf(rpc.InvalidArgument, "%s %q: reading the checksum: %w", op, p, err)
	}
	if len(want) > 0 && string(want) != got {
		return "", rpc.Errorf(rpc.DataLoss, "%s %q: sha256 mismatch: client sent %s, agent received %s", op, p, want, got)
	}
	return got, nil
}

func (s *Service) appendTo(ctx context.Context, call *rpc.Request, req writeRequest, mode fs.FileMode, src io.Reader, h hash.Hash) (any, error) {
	const op = methodWrite
	f, err := s.pol.Open(op, req.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := s.copyBuf(f, src)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, s.fail(op, req.Path, err)
	}
	res := WriteResult{Size: n}
	if h != nil {
		if res.SHA256, err = verifySum(op, req.Path, call, h); err != nil {
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, s.fail(op, req.Path, err)
	}
	return res, f.Close()
}

// setOwner gives f the requested owner, or the replaced file's owner
// where the agent may (errors then are ignored).
func (s *Service) setOwner(f *os.File, o WriteOptions, old fs.FileInfo, hadOld bool) error {
	if o.UID != nil || o.GID != nil {
		uid, gid := -1, -1
		if o.UID != nil {
			uid = *o.UID
		}
		if o.GID != nil {
			gid = *o.GID
		}
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("setting owner %d:%d: %w", uid, gid, err)
		}
		return nil
	}
	if hadOld {
		if uid, gid := owner(old); uid >= 0 {
			_ = f.Chown(uid, gid)
		}
	}
	return nil
}
