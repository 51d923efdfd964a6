package vix

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/hgfs"
)

// procIO is a program's stdio served as files (Options.ProcessIO).
type procIO struct {
	stdin, stdout, stderr *streamBuf
	done                  chan struct{} // closed when the program has exited
}

func newProcIO(max int) *procIO {
	return &procIO{stdin: newStreamBuf(max), stdout: newStreamBuf(max), stderr: newStreamBuf(max), done: make(chan struct{})}
}

// exited ends the output streams (readers drain them, then see EOF) and
// drops unread input.
func (p *procIO) exited() {
	p.stdout.CloseWrite()
	p.stderr.CloseWrite()
	p.stdin.abandon()
	close(p.done)
}

func (p *procIO) abandon() {
	p.stdin.abandon()
	p.stdout.abandon()
	p.stderr.abandon()
}

// keptIO is how many exited programs keep their unread output.
const keptIO = 16

// ioWait is how long a stat of a running program's output waits for it
// to exit before it reports what is buffered (as govmomi's toolbox).
const ioWait = time.Second

// ioPath splits "/proc/<pid>/<stream>".
func ioPath(p string) (pid int, stream string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return 0, "", false
	}
	num, stream, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, "", false
	}
	switch stream {
	case "stdin", "stdout", "stderr":
	default:
		return 0, "", false
	}
	pid, err := strconv.Atoi(num)
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, stream, true
}

// ioFor finds the stream a path names among the programs with served
// stdio, running or recently exited.
func (s *Server) ioFor(p string) (*procIO, *streamBuf, string, bool) {
	pid, stream, ok := ioPath(p)
	if !ok {
		return nil, nil, "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.procs.running[pid]
	if e == nil {
		for i := len(s.procs.exited) - 1; i >= 0; i-- {
			if s.procs.exited[i].pid == pid {
				e = s.procs.exited[i]
				break
			}
		}
	}
	if e == nil || e.io == nil {
		return nil, nil, "", false
	}
	b := map[string]*streamBuf{"stdin": e.io.stdin, "stdout": e.io.stdout, "stderr": e.io.stderr}[stream]
	return e.io, b, stream, true
}

// ioInfo describes a stream: its buffered bytes, after waiting up to
// ioWait for the program to exit when it is output.
func ioInfo(ctx context.Context, pio *procIO, b *streamBuf, name string) fs.FileInfo {
	if name == "stdin" {
		return streamInfo{name: name, mode: 0o200}
	}
	t := time.NewTimer(ioWait)
	defer t.Stop()
	select {
	case <-pio.done:
	case <-t.C:
	case <-ctx.Done():
	}
	return streamInfo{name: name, mode: 0o400, size: int64(b.Len())}
}

// ProcessIO returns an hgfs.FileHandler that serves /proc/<pid>/stdin,
// stdout and stderr of the programs started through VIX with
// Options.ProcessIO, and passes every other name to next. Register it
// as the HGFS server's "file" handler, next being the one it replaces.
// Reads take what the program has written so far (stat reports that
// size, after waiting up to a second for the program to end); writes to
// stdin queue what fits, and closing stdin is its EOF.
func (s *Server) ProcessIO(next hgfs.FileHandler) hgfs.FileHandler {
	return &ioHandler{s: s, next: next}
}

type ioHandler struct {
	s    *Server
	next hgfs.FileHandler
}

func (h *ioHandler) Stat(ctx context.Context, u *url.URL) (fs.FileInfo, error) {
	if pio, b, name, ok := h.s.ioFor(u.Path); ok {
		return ioInfo(ctx, pio, b, name), nil
	}
	return h.next.Stat(ctx, u)
}

// errIOMode is an open of stdin for reading or of output for writing.
var errIOMode = errors.New("vix: stdin opens write-only, stdout and stderr read-only")

func (h *ioHandler) Open(ctx context.Context, u *url.URL, req hgfs.OpenRequest) (hgfs.File, error) {
	pio, b, name, ok := h.s.ioFor(u.Path)
	if !ok {
		return h.next.Open(ctx, u, req)
	}
	want := hgfs.OpenModeReadOnly
	if name == "stdin" {
		want = hgfs.OpenModeWriteOnly
	}
	if req.Mode != want {
		return nil, &fs.PathError{Op: "open", Path: u.Path, Err: errIOMode}
	}
	return &ioFile{pio: pio, b: b, name: name}, nil
}

func (h *ioHandler) Setattr(ctx context.Context, u *url.URL, a hgfs.Attr) error {
	if _, _, _, ok := h.s.ioFor(u.Path); ok {
		return &fs.PathError{Op: "setattr", Path: u.Path, Err: fs.ErrPermission}
	}
	sa, ok := h.next.(hgfs.Setattrer)
	if !ok {
		return &fs.PathError{Op: "setattr", Path: u.Path, Err: errors.ErrUnsupported}
	}
	return sa.Setattr(ctx, u, a)
}

// ioFile is an open stream.
type ioFile struct {
	pio  *procIO
	b    *streamBuf
	name string
}

func (f *ioFile) Read(p []byte) (int, error) {
	if f.name == "stdin" {
		return 0, errIOMode
	}
	return f.b.readNow(p)
}

func (f *ioFile) Write(p []byte) (int, error) {
	if f.name != "stdin" {
		return 0, errIOMode
	}
	return f.b.writeNow(p)
}

// Close of stdin is the program's EOF.
func (f *ioFile) Close() error {
	if f.name == "stdin" {
		f.b.CloseWrite()
	}
	return nil
}

func (f *ioFile) Stat() (fs.FileInfo, error) {
	return streamInfo{name: f.name, mode: map[bool]fs.FileMode{true: 0o200, false: 0o400}[f.name == "stdin"], size: int64(f.b.Len())}, nil
}

type streamInfo struct {
	name string
	mode fs.FileMode
	size int64
}

func (i streamInfo) Name() string       { return i.name }
func (i streamInfo) Size() int64        { return i.size }
func (i streamInfo) Mode() fs.FileMode  { return i.mode }
func (i streamInfo) ModTime() time.Time { return time.Now() }
func (i streamInfo) IsDir() bool        { return false }
func (i streamInfo) Sys() any           { return nil }
