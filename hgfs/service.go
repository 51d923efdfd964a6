package hgfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/files"
)

// File is an open file of a FileHandler. Reads and writes are
// sequential unless the File also implements io.ReaderAt / io.WriterAt
// (as *os.File does); a File may implement Stat() (fs.FileInfo, error)
// to answer GetattrV2 by handle, and ReadContext / WriteContext (with a
// context first) so that a sequential read or write that waits gives up
// when its caller does.
type File interface {
	io.Reader
	io.Writer
	io.Closer
}

// OpenRequest says how to open a file.
type OpenRequest struct {
	Mode  int         // OpenModeReadOnly, OpenModeWriteOnly or OpenModeReadWrite
	Flags int         // OpenFlagOpen ... OpenFlagCreateEmpty
	Perm  fs.FileMode // for a file that is created
}

// FileHandler serves the names of one URL scheme. The context of each
// method ends when the operation's caller gives up.
type FileHandler interface {
	// Stat describes u, as GetattrV2 reports it.
	Stat(ctx context.Context, u *url.URL) (fs.FileInfo, error)
	// Open opens u. The File outlives ctx: it lives until it is closed.
	Open(ctx context.Context, u *url.URL, req OpenRequest) (File, error)
}

// Attr holds the attributes SetattrV2 changes; nil fields stay as they
// are.
type Attr struct {
	Size  *int64
	Mode  *fs.FileMode
	UID   *int
	GID   *int
	Atime *time.Time
	Mtime *time.Time
}

// Setattrer is a FileHandler that can change attributes (SetattrV2).
type Setattrer interface {
	Setattr(ctx context.Context, u *url.URL, a Attr) error
}

// Options configure a Service.
type Options struct {
	// Logger receives failed operations; nil is silent.
	Logger *slog.Logger
	// Files is the file policy (root, read-only, hard links) that the
	// "file" and "archive" handlers obey; share the file.* service's
	// (files.Service.Policy). Nil: NewService opens a policy over "/",
	// writable, and Close releases it.
	Files *files.Policy
	// MaxPacketSize is offered in CreateSessionV4 (default
	// LegacyLargePacketMax, at most LargePacketMax).
	MaxPacketSize uint32
	// MaxSessions caps the sessions of one connection (default 64).
	MaxSessions int
	// MaxHandles caps the open files of one connection (default 1024).
	MaxHandles int
	// MaxOpenFiles caps open files across all connections (default
	// 4096), so that connections together cannot exhaust descriptors.
	MaxOpenFiles int
}

// Service answers HGFS packets. Sessions and open files belong to a Conn
// (one per rpc connection, see Register) and end with it. It is safe for
// concurrent use.
type Service struct {
	log          *slog.Logger
	pol          *files.Policy
	ownPol       bool
	maxPacket    uint32
	maxSessions  int
	maxHandles   int
	maxOpenFiles int

	mu        sync.Mutex
	handlers  map[string]FileHandler
	conns     map[*Conn]struct{}
	openFiles int // across conns
	local     *Conn
}

// NewService returns a Service with the "file" and "archive" handlers
// registered, both under opts.Files. Close releases it.
func NewService(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxPacketSize == 0 {
		opts.MaxPacketSize = LegacyLargePacketMax
	}
	opts.MaxPacketSize = min(max(opts.MaxPacketSize, PacketMax), LargePacketMax)
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 64
	}
	if opts.MaxHandles <= 0 {
		opts.MaxHandles = 1024
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = 4096
	}
	s := &Service{
		log: opts.Logger, pol: opts.Files, maxPacket: opts.MaxPacketSize,
		maxSessions: opts.MaxSessions, maxHandles: opts.MaxHandles, maxOpenFiles: opts.MaxOpenFiles,
		handlers: make(map[string]FileHandler),
		conns:    make(map[*Conn]struct{}),
	}
	if s.pol == nil {
		pol, err := files.NewPolicy(files.Options{Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		s.pol, s.ownPol = pol, true
	}
	s.HandleScheme("file", NewFileSystemHandler(s.pol))
	s.HandleScheme("archive", NewArchiveHandler(opts.Logger, s.pol))
	s.local = s.NewConn()
	return s, nil
}

// HandleScheme serves names "SCHEME:/path..." with h; "file" serves
// plain names.
func (s *Service) HandleScheme(scheme string, h FileHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[strings.ToLower(scheme)] = h
}

// Dispatch answers one packet in the service's own connection, for a
// caller with a single peer (a VMware backdoor); the operation gives up
// when ctx ends. Use NewConn for each peer when there are several.
func (s *Service) Dispatch(ctx context.Context, packet []byte) []byte {
	return s.local.Dispatch(ctx, packet)
}

// Close closes every connection and with them every open file, and the
// policy NewService opened.
func (s *Service) Close() error {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.Close())
	}
	if s.ownPol {
		errs = append(errs, s.pol.Close())
	}
	return errors.Join(errs...)
}

// reserveFile counts one more open file against MaxOpenFiles.
func (s *Service) reserveFile() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.openFiles >= s.maxOpenFiles {
		return failf(StatusTooManySessions, "%d files open across connections (the server's maximum)", s.openFiles)
	}
	s.openFiles++
	return nil
}

func (s *Service) releaseFile() {
	s.mu.Lock()
	s.openFiles--
	s.mu.Unlock()
}

// resolve turns a cross-platform name into a URL and its handler.
func (s *Service) resolve(cpName string) (*url.URL, FileHandler, error) {
	var parts []string
	for _, c := range strings.Split(cpName, "\x00") {
		if c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return nil, nil, failf(StatusInvalidName, "empty file name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if scheme, ok := strings.CutSuffix(parts[0], ":"); ok {
		if h, ok := s.handlers[strings.ToLower(scheme)]; ok {
			u, err := url.Parse(strings.ToLower(scheme) + ":/" + strings.Join(parts[1:], "/"))
			if err != nil {
				return nil, nil, failf(StatusInvalidName, "name %q: %w", strings.Join(parts, "/"), err)
			}
			return u, h, nil
		}
	}
	h, ok := s.handlers["file"]
	if !ok {
		return nil, nil, failf(StatusNoSuchFileOrDir, "no handler for plain names")
	}
	return &url.URL{Scheme: "file", Path: "/" + strings.Join(parts, "/")}, h, nil
}
