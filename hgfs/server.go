package hgfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// File is an open file of a FileHandler. Reads and writes are
// sequential unless the File also implements io.ReaderAt / io.WriterAt
// (as *os.File does); a File may implement Stat() (fs.FileInfo, error)
// to answer GetattrV2 by handle.
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

// FileHandler serves the names of one URL scheme.
type FileHandler interface {
	// Stat describes u, as GetattrV2 reports it.
	Stat(u *url.URL) (fs.FileInfo, error)
	// Open opens u.
	Open(u *url.URL, req OpenRequest) (File, error)
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
	Setattr(u *url.URL, a Attr) error
}

// Options configure a Server.
type Options struct {
	// Logger receives failed operations; nil is silent.
	Logger *slog.Logger
	// MaxPacketSize is offered in CreateSessionV4 (default
	// LegacyLargePacketMax, at most LargePacketMax).
	MaxPacketSize uint32
	// MaxSessions caps concurrent sessions (default 64).
	MaxSessions int
	// MaxHandles caps open files across sessions (default 1024).
	MaxHandles int
}

// Server answers HGFS packets. It is safe for concurrent use.
type Server struct {
	log         *slog.Logger
	maxPacket   uint32
	maxSessions int
	maxHandles  int

	mu         sync.Mutex
	handlers   map[string]FileHandler
	sessions   map[uint64]struct{}
	files      map[uint32]*openFile
	nextHandle uint32
}

type openFile struct {
	mu      sync.Mutex
	f       File
	u       *url.URL
	h       FileHandler
	session uint64
	pos     int64
}

// NewServer returns a Server with the "file" and "archive" handlers
// registered.
func NewServer(opts Options) *Server {
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
	s := &Server{
		log: opts.Logger, maxPacket: opts.MaxPacketSize,
		maxSessions: opts.MaxSessions, maxHandles: opts.MaxHandles,
		handlers: make(map[string]FileHandler),
		sessions: make(map[uint64]struct{}),
		files:    make(map[uint32]*openFile),
	}
	s.RegisterHandler("file", FileSystemHandler{})
	s.RegisterHandler("archive", NewArchiveHandler(opts.Logger))
	return s
}

// RegisterHandler serves names "SCHEME:/path..." with h; "file" serves
// plain names.
func (s *Server) RegisterHandler(scheme string, h FileHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[strings.ToLower(scheme)] = h
}

// Close closes every open file of every session.
func (s *Server) Close() error {
	s.mu.Lock()
	files := s.files
	s.files = make(map[uint32]*openFile)
	s.sessions = make(map[uint64]struct{})
	s.mu.Unlock()
	var errs []error
	for _, of := range files {
		errs = append(errs, of.f.Close())
	}
	return errors.Join(errs...)
}

// request is a parsed packet.
type request struct {
	id      uint32
	op      Op
	session uint64
	v4      bool   // version 4 header
	prefix  bool   // HgfsRequest/HgfsReply words around the body
	body    []byte // the operation's fields
}

// statusError carries an HGFS status out of an operation.
type statusError struct {
	st  Status
	err error
}

func (e *statusError) Error() string { return fmt.Sprintf("hgfs: status %d: %v", e.st, e.err) }
func (e *statusError) Unwrap() error { return e.err }

func failf(st Status, format string, args ...any) error {
	return &statusError{st: st, err: fmt.Errorf(format, args...)}
}

// errBadPacket is a field that runs past the end of the packet.
var errBadPacket = errors.New("hgfs: packet too short for its fields")

// Dispatch answers one request packet with one reply packet. It never
// panics: a packet it cannot parse gets a PROTOCOL_ERROR reply.
func (s *Server) Dispatch(packet []byte) (reply []byte) {
	req, err := parse(packet)
	if err != nil {
		s.log.Debug("hgfs: malformed packet", "bytes", len(packet), "error", err)
		return encodeReply(req, StatusProtocolError, nil)
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("hgfs: operation panicked", "op", req.op, "panic", p)
			reply = encodeReply(req, StatusGenericError, nil)
		}
	}()
	body, err := s.handle(&req)
	if err != nil {
		st := statusOf(err)
		s.log.Debug("hgfs: operation failed", "op", req.op, "status", st, "error", err)
		return encodeReply(req, st, nil)
	}
	return encodeReply(req, StatusSuccess, body)
}

// parse splits a packet into its header and body, checking every
// length against the packet and the protocol's maxima.
func parse(p []byte) (request, error) {
	req := request{prefix: true}
	if len(p) < legacyHeaderSize {
		return req, fmt.Errorf("%w: %d bytes", errBadPacket, len(p))
	}
	d := decoder{b: p}
	req.id = d.u32()
	req.op = Op(d.u32())
	if req.op == OpNewHeader {
		req.v4, req.prefix, req.id, req.op = true, false, 0, 0
		if len(p) < headerSize {
			return req, fmt.Errorf("%w: version 4 header in %d bytes", errBadPacket, len(p))
		}
		d = decoder{b: p[8:]}
		packetSize, hdrSize := d.u32(), d.u32()
		req.id, req.op = d.u32(), Op(d.u32())
		d.u32() // status
		d.u32() // flags
		d.u32() // information
		req.session = d.u64()
		if hdrSize < headerSize || hdrSize > HeaderSizeMax || packetSize < hdrSize || int64(packetSize) > int64(len(p)) {
			return req, fmt.Errorf("%w: header size %d, packet size %d in %d bytes", errBadPacket, hdrSize, packetSize, len(p))
		}
		p = p[:packetSize]
		req.body = p[hdrSize:]
		if req.op < OpOpenV3 {
			// Operations older than V3 keep their own HgfsRequest words
			// after the new header.
			req.prefix = true
			if len(req.body) < legacyHeaderSize {
				return req, fmt.Errorf("%w: no request words after the header", errBadPacket)
			}
			req.body = req.body[legacyHeaderSize:]
		}
	} else {
		req.prefix = true
		req.body = p[legacyHeaderSize:]
	}
	limit := LargePacketMax
	if req.op < OpOpenV3 {
		limit = PacketMax
	}
	if len(p) > limit {
		return req, fmt.Errorf("%w: %d-byte packet for op %d exceeds %d", errBadPacket, len(p), req.op, limit)
	}
	return req, nil
}

// encodeReply builds the reply packet in the request's format.
func encodeReply(req request, st Status, body []byte) []byte {
	if st != StatusSuccess {
		body = nil
	}
	n := len(body)
	if req.prefix {
		n += legacyHeaderSize
	}
	var b []byte
	if req.v4 {
		b = make([]byte, 0, headerSize+n)
		b = append(b, headerVersion, 0, 0, 0)
		b = put32(b, uint32(OpNewHeader))
		b = put32(b, uint32(headerSize+n))
		b = put32(b, headerSize)
		b = put32(b, req.id)
		b = put32(b, uint32(req.op))
		b = put32(b, uint32(st))
		b = put32(b, packetFlagReply)
		b = put32(b, 0) // information
		b = put64(b, req.session)
		b = put64(b, 0) // reserved
	} else {
		b = make([]byte, 0, n)
	}
	if req.prefix {
		b = put32(b, req.id)
		b = put32(b, uint32(st))
	}
	return append(b, body...)
}

// statusOf maps an error to the HGFS status that describes it.
func statusOf(err error) Status {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.st
	case errors.Is(err, errBadPacket):
		return StatusProtocolError
	case errors.Is(err, syscall.ENOTDIR):
		return StatusNotDirectory
	case errors.Is(err, syscall.ENOTEMPTY):
		return StatusDirNotEmpty
	case errors.Is(err, fs.ErrNotExist):
		return StatusNoSuchFileOrDir
	case errors.Is(err, fs.ErrExist):
		return StatusFileExists
	case errors.Is(err, syscall.EPERM):
		return StatusOperationNotPermitted
	case errors.Is(err, fs.ErrPermission):
		return StatusAccessDenied
	case errors.Is(err, syscall.ENOSPC):
		return StatusNoSpace
	case errors.Is(err, syscall.ENAMETOOLONG):
		return StatusNameTooLong
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EISDIR):
		return StatusInvalidParameter
	case errors.Is(err, errors.ErrUnsupported):
		return StatusOperationNotSupported
	}
	return StatusGenericError
}

// resolve turns a cross-platform name into a URL and its handler.
func (s *Server) resolve(cpName string) (*url.URL, FileHandler, error) {
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

// newSession registers a session and returns its id.
func (s *Server) newSession() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= s.maxSessions {
		return 0, failf(StatusTooManySessions, "%d sessions open", len(s.sessions))
	}
	for {
		id := rand.Uint64()
		if _, dup := s.sessions[id]; !dup && id != 0 && id != ^uint64(0) {
			s.sessions[id] = struct{}{}
			return id, nil
		}
	}
}

// checkSession refuses version 4 packets of unknown sessions.
func (s *Server) checkSession(req *request) error {
	if !req.v4 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[req.session]; !ok {
		return failf(StatusStaleSession, "session %#x is not open", req.session)
	}
	return nil
}

// destroySession forgets a session and closes its files.
func (s *Server) destroySession(id uint64) error {
	s.mu.Lock()
	if _, ok := s.sessions[id]; !ok {
		s.mu.Unlock()
		return failf(StatusStaleSession, "session %#x is not open", id)
	}
	delete(s.sessions, id)
	var mine []*openFile
	for h, of := range s.files {
		if of.session == id {
			mine = append(mine, of)
			delete(s.files, h)
		}
	}
	s.mu.Unlock()
	for _, of := range mine {
		_ = of.f.Close()
	}
	return nil
}

// addFile gives an open file a handle.
func (s *Server) addFile(of *openFile) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) >= s.maxHandles {
		return 0, failf(StatusTooManySessions, "%d files open", len(s.files))
	}
	for {
		s.nextHandle++
		h := s.nextHandle
		if _, used := s.files[h]; !used && h != invalidHandle && h != 0 {
			s.files[h] = of
			return h, nil
		}
	}
}

// file returns the open file of handle h in the request's session.
func (s *Server) file(req *request, h uint32) (*openFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	of, ok := s.files[h]
	if !ok || of.session != req.session {
		return nil, failf(StatusInvalidHandle, "handle %d is not open", h)
	}
	return of, nil
}

// removeFile takes handle h out of the table.
func (s *Server) removeFile(req *request, h uint32) (*openFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	of, ok := s.files[h]
	if !ok || of.session != req.session {
		return nil, failf(StatusInvalidHandle, "handle %d is not open", h)
	}
	delete(s.files, h)
	return of, nil
}
