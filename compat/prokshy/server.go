package prokshy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/bridge"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// Defaults.
const (
	DefaultArgTimeout = time.Second // main.sh's read -t 1
	DefaultMaxLine    = 1 << 20
	// funcPrefix names in-process commands among the process service's
	// Go functions.
	funcPrefix = "prokshy:"
)

// Func is a command registered in process: it gets the argument line
// (what an executable gets on stdin) and writes its reply to stdout.
type Func func(ctx context.Context, arg []byte, stdout io.Writer) error

// Options configure a Server.
type Options struct {
	// Server is the agent's rpc.Server: each command is a process.start
	// call on it, admitted by its Policy (required).
	Server *rpc.Server
	// Processes is the agent's process service, needed only by Register.
	Processes *process.Service
	// Dir is the command.d directory: a command NAME runs the executable
	// Dir/NAME (empty: only registered commands).
	Dir string
	// ArgTimeout bounds the wait for the argument line (default 1s).
	ArgTimeout time.Duration
	// MaxLine caps a command or argument line (default 1 MiB); a longer
	// line is dropped.
	MaxLine int
	// Reconnect makes EOF on the port mean "no host right now" (a
	// virtio-console port) rather than the end: Serve waits for the next
	// host. ServePort sets it.
	Reconnect bool
	// Logger receives each command's outcome and its stderr; nil is
	// silent.
	Logger *slog.Logger
	// Token is presented to Server's policy on the host's behalf.
	Token []byte
}

// Server is the guest side of prokshy: main.sh's loop.
type Server struct {
	opts  Options
	log   *slog.Logger
	mu    sync.Mutex
	funcs map[string]bool
}

// NewServer returns a Server for opts.
func NewServer(opts Options) (*Server, error) {
	if opts.Server == nil {
		return nil, errors.New("prokshy: Options.Server is nil")
	}
	if opts.ArgTimeout <= 0 {
		opts.ArgTimeout = DefaultArgTimeout
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log, funcs: map[string]bool{}}, nil
}

// ValidName reports whether name is a command name prokshy accepts:
// ^[a-zA-Z0-9_.-]+$.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Register makes name run fn in process. A registered command shadows an
// executable of the same name in Dir.
func (s *Server) Register(name string, fn Func) error {
	if !ValidName(name) {
		return fmt.Errorf("prokshy: invalid command name %q", name)
	}
	if s.opts.Processes == nil {
		return errors.New("prokshy: Register needs Options.Processes")
	}
	maxArg := int64(s.opts.MaxLine)
	s.opts.Processes.RegisterFunc(funcPrefix+name, func(ctx context.Context, p *process.FuncProcess) (int, error) {
		arg, err := io.ReadAll(io.LimitReader(p.Stdin, maxArg))
		if err != nil {
			return 1, err
		}
		return 0, fn(ctx, arg, p.Stdout)
	})
	s.mu.Lock()
	s.funcs[name] = true
	s.mu.Unlock()
	return nil
}

// ServePort opens the virtio-console port called name (Linux
// /dev/virtio-ports/NAME, bhyve /dev/vtcon/NAME) and serves it until ctx
// ends.
func (s *Server) ServePort(ctx context.Context, name string, vopts channel.VirtioOptions) error {
	path, err := channel.FindVirtioPort(name, vopts)
	if err != nil {
		return fmt.Errorf("prokshy: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("prokshy: %w", err)
	}
	return s.serve(ctx, f, true)
}

// Serve runs main.sh's loop on port until ctx ends or the port fails
// (or reads EOF, without Reconnect); it closes port.
func (s *Server) Serve(ctx context.Context, port io.ReadWriteCloser) error {
	return s.serve(ctx, port, s.opts.Reconnect)
}

func (s *Server) serve(ctx context.Context, port io.ReadWriteCloser, reconnect bool) error {
	ctx, cancel := context.WithCancel(ctx)
	p := &pump{port: port, reconnect: reconnect, ch: make(chan chunk)}
	var wg sync.WaitGroup
	wg.Go(func() { p.run(ctx) })
	defer func() {
		cancel()
		_ = port.Close()
		wg.Wait()
	}()
	peer := channel.PeerOfConn(port)
	if peer.Transport == "" {
		peer.Transport = channel.TransportVirtio
	}
	sess := &session{srv: s, port: port, peer: peer, r: &lineReader{p: p, max: s.opts.MaxLine}}
	for {
		err := sess.next(ctx)
		switch {
		case err == nil, errors.Is(err, errLineTooLong):
		case errors.Is(err, io.EOF) && reconnect && ctx.Err() == nil:
		case errors.Is(err, io.EOF):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("prokshy: %w", err)
		}
	}
}

// lookup finds the command name: registered in process, or an
// executable regular file in Dir (main.sh's [ -x ], minus directories).
func (s *Server) lookup(name string) (process.Spec, bool) {
	s.mu.Lock()
	registered := s.funcs[name]
	s.mu.Unlock()
	if registered {
		return process.Spec{Path: funcPrefix + name}, true
	}
	if s.opts.Dir == "" {
		return process.Spec{}, false
	}
	p := filepath.Join(s.opts.Dir, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return process.Spec{}, false
	}
	return process.Spec{Path: p}, true
}

// run runs one command with arg on stdin and its stdout to out.
func (s *Server) run(ctx context.Context, peer channel.PeerInfo, spec process.Spec, name string, arg []byte, out io.Writer) {
	bc, err := bridge.Open(ctx, s.opts.Server, peer, "prokshy", s.opts.Token)
	if err != nil {
		s.log.Warn("prokshy: host refused", "command", name, "err", err)
		return
	}
	defer bc.Close()
	stderr := &logWriter{log: s.log, name: name}
	res, err := process.NewClient(bc.Client).Run(ctx, spec, bytes.NewReader(arg), out, stderr)
	if res != nil {
		s.log.Info("prokshy: command ran", "command", name, "exit_code", res.ExitCode, "signal", res.Signal)
		return
	}
	s.log.Warn("prokshy: command failed", "command", name, "err", err)
}

// logWriter logs a command's stderr.
type logWriter struct {
	log  *slog.Logger
	name string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("prokshy: stderr", "command", w.name, "text", string(p[:min(len(p), 4096)]))
	return len(p), nil
}
