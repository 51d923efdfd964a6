package files

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/guestrpc/guestrpc/rpc"
)

// Options configure a Service or a Policy.
type Options struct {
	// Logger receives transfer summaries and failures; nil is silent.
	Logger *slog.Logger
	// Root confines every path (default "/": the whole file system).
	Root string
	// ReadOnly refuses every call that would change the file system.
	ReadOnly bool
}

// Service serves the file.* methods under its Policy. It is safe for
// concurrent use.
type Service struct {
	log  *slog.Logger
	pol  *Policy
	bufs sync.Pool // *[]byte of bufSize
	// beforeCommit, when set (by tests), runs after a write's data is on
	// disk and before it is renamed or linked into place.
	beforeCommit func()
}

// bufSize is the copy buffer of a transfer: four DATA frames' worth.
const bufSize = 256 << 10

// NewService opens the root and returns a Service. Close releases it.
func NewService(opts Options) (*Service, error) { return newService(opts, newTree) }

func newService(opts Options, open func(string) (tree, error)) (*Service, error) {
	pol, err := newPolicy(opts, open)
	if err != nil {
		return nil, err
	}
	s := &Service{log: pol.log, pol: pol}
	s.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	return s, nil
}

// Close releases the root's descriptors.
func (s *Service) Close() error { return s.pol.Close() }

// Root is the absolute directory that confines every path.
func (s *Service) Root() string { return s.pol.root }

// Policy is the file policy the service obeys, to share with every
// other way into the files (hgfs.packet).
func (s *Service) Policy() *Policy { return s.pol }

// Register adds the file.* methods to srv.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(methodStat, rpc.Unary(s.stat))
	srv.RegisterHandler(methodList, rpc.HandlerFunc(s.list))
	srv.RegisterHandler(methodMkdir, rpc.Unary(s.mkdir))
	srv.RegisterHandler(methodRemove, rpc.Unary(s.remove))
	srv.RegisterHandler(methodRename, rpc.Unary(s.rename))
	srv.RegisterHandler(methodChmod, rpc.Unary(s.chmod))
	srv.RegisterHandler(methodChown, rpc.Unary(s.chown))
	srv.RegisterHandler(methodChtimes, rpc.Unary(s.chtimes))
	srv.RegisterHandler(methodMkTemp, rpc.Unary(s.mktemp))
	srv.RegisterHandler(methodRead, rpc.HandlerFunc(s.read))
	srv.RegisterHandler(methodWrite, rpc.HandlerFunc(s.write))
	srv.RegisterHandler(methodArchive, rpc.HandlerFunc(s.archive))
}

func (s *Service) rel(op, p string) (string, error)   { return s.pol.resolve(op, p) }
func (s *Service) writable(op, p string) error        { return s.pol.Writable(op, p) }
func (s *Service) fail(op, p string, err error) error { return fail(op, p, err) }

func (s *Service) info(rel, name string, fi fs.FileInfo) FileInfo {
	uid, gid := owner(fi)
	out := FileInfo{Name: name, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime(), UID: uid, GID: gid}
	if fi.Mode()&fs.ModeSymlink != 0 {
		out.Link, _ = s.pol.tree.Readlink(rel)
	}
	return out
}

func (s *Service) stat(_ context.Context, req statRequest) (FileInfo, error) {
	rel, err := s.rel(methodStat, req.Path)
	if err != nil {
		return FileInfo{}, err
	}
	var fi fs.FileInfo
	if req.Lstat {
		fi, err = s.pol.tree.Lstat(rel)
	} else {
		fi, err = s.pol.tree.Stat(rel)
	}
	if err != nil {
		return FileInfo{}, s.fail(methodStat, req.Path, err)
	}
	return s.info(rel, filepath.Base(req.Path), fi), nil
}

func (s *Service) mkdir(_ context.Context, req mkdirRequest) (struct{}, error) {
	const op = methodMkdir
	rel, err := s.rel(op, req.Path)
	if err == nil {
		err = s.writable(op, req.Path)
	}
	if err != nil {
		return struct{}{}, err
	}
	mode := req.Mode
	if mode == 0 {
		mode = 0o755
	}
	if req.Parents {
		err = s.pol.tree.MkdirAll(rel, mode)
	} else {
		err = s.pol.tree.Mkdir(rel, mode)
	}
	if err != nil {
		return struct{}{}, s.fail(op, req.Path, err)
	}
	return struct{}{}, nil
}

func (s *Service) remove(_ context.Context, req removeRequest) (struct{}, error) {
	const op = methodRemove
	rel, err := s.rel(op, req.Path)
	if err == nil {
		err = s.writable(op, req.Path)
	}
	if err != nil {
		return struct{}{}, err
	}
	if rel == "." {
		return struct{}{}, rpc.Errorf(rpc.PermissionDenied, "%s %q: refusing to remove the root", op, req.Path)
	}
	if _, err := s.pol.tree.Lstat(rel); err != nil {
		return struct{}{}, s.fail(op, req.Path, err)
	}
	if req.Recursive {
		err = s.pol.tree.RemoveAll(rel)
	} else {
		err = s.pol.tree.Remove(rel)
	}
	if err != nil {
		return struct{}{}, s.fail(op, req.Path, err)
	}
	return struct{}{}, nil
}

func (s *Service) rename(_ context.Context, req renameRequest) (struct{}, error) {
	const op = methodRename
	from, err := s.rel(op, req.From)
	if err != nil {
		return struct{}{}, err
	}
	to, err := s.rel(op, req.To)
	if err == nil {
		err = s.writable(op, req.To)
	}
	if err != nil {
		return struct{}{}, err
	}
	if _, err := s.pol.tree.Lstat(from); err != nil {
		return struct{}{}, s.fail(op, req.From, err)
	}
	if !req.Overwrite {
		err = s.pol.tree.RenameNoReplace(from, to)
		if errors.Is(err, fs.ErrExist) {
			return struct{}{}, rpc.Errorf(rpc.AlreadyExists, "%s %q: %w (set overwrite to replace it)", op, req.To, fs.ErrExist)
		}
	} else {
		err = s.pol.tree.Rename(from, to)
	}
	if err != nil {
		return struct{}{}, s.fail(op, req.From+" -> "+req.To, err)
	}
	return struct{}{}, nil
}

func (s *Service) chmod(_ context.Context, req chmodRequest) (struct{}, error) {
	return struct{}{}, s.pol.Chmod(methodChmod, req.Path, req.Mode)
}

func (s *Service) chown(_ context.Context, req chownRequest) (struct{}, error) {
	return struct{}{}, s.pol.Chown(methodChown, req.Path, req.UID, req.GID, !req.Lchown)
}

func (s *Service) chtimes(_ context.Context, req chtimesRequest) (struct{}, error) {
	return struct{}{}, s.pol.Chtimes(methodChtimes, req.Path, req.Atime, req.Mtime)
}

func (s *Service) mktemp(_ context.Context, req mkTempRequest) (mkTempResult, error) {
	const op = methodMkTemp
	dir := req.Dir
	if dir == "" {
		dir = s.pol.root
		if s.pol.root == "/" {
			dir = os.TempDir()
		}
	}
	rel, err := s.rel(op, dir)
	if err == nil {
		err = s.writable(op, dir)
	}
	if err != nil {
		return mkTempResult{}, err
	}
	if strings.ContainsAny(req.Prefix+req.Suffix, `/\`) {
		return mkTempResult{}, rpc.Errorf(rpc.InvalidArgument, "%s: prefix %q or suffix %q holds a path separator", op, req.Prefix, req.Suffix)
	}
	for range 100 {
		name := filepath.Join(rel, req.Prefix+randomName()+req.Suffix)
		if req.Directory {
			err = s.pol.tree.Mkdir(name, 0o700)
		} else {
			var f *os.File
			if f, err = s.pol.tree.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600); err == nil {
				err = f.Close()
			}
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return mkTempResult{}, s.fail(op, dir, err)
		}
		return mkTempResult{Path: filepath.Join(s.pol.root, name)}, nil
	}
	return mkTempResult{}, rpc.Errorf(rpc.ResourceExhausted, "%s %q: no free name after 100 tries", op, dir)
}

// randomName is 12 hex digits for temporary names.
func randomName() string {
	var b [6]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}
