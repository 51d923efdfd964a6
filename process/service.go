package process

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Options configure a Service.
type Options struct {
	// Logger receives start/exit and reaping messages; nil is silent.
	Logger *slog.Logger
	// Reap makes the Service a child subreaper (PR_SET_CHILD_SUBREAPER)
	// unless it is already PID 1, and makes its wait loop reap every
	// child, orphans included, with wait4(-1). Nothing else in the program
	// may then wait for children.
	Reap bool
}

// Func is a Go function run as a process (see RegisterFunc). Its exit
// code becomes Result.ExitCode; a non-nil error is also written to
// stderr and turns a zero code into 1. ctx is canceled by any signal
// (process.signal or process.kill), by the spec's Timeout and when the
// client cancels.
type Func func(ctx context.Context, p *FuncProcess) (exitCode int, err error)

// FuncProcess is what a Func gets in place of a process's environment.
type FuncProcess struct {
	Name   string
	Args   []string // Spec.Args
	Env    []string // Spec.Env (the agent's environment is not added)
	Dir    string
	Stdin  io.Reader // lane 0, or empty when Spec.Stdin is false
	Stdout io.Writer
	Stderr io.Writer
}

// Service runs processes for rpc calls. Create it with NewService, add
// its methods to a server with Register, and Close it when done.
type Service struct {
	log  *slog.Logger
	reap bool
	pool sync.Pool // *[]byte pump buffers of pumpBufferSize

	fmu   sync.RWMutex
	funcs map[string]Func

	// forkMu is held from fork to registration; the wait loop takes it
	// before it calls an unknown pid an orphan. mu guards the maps and is
	// held only briefly. Lock order: forkMu, then mu.
	forkMu  sync.Mutex
	mu      sync.Mutex
	closed  bool
	nextID  uint64
	procs   map[uint64]*proc // running, by id
	waiters map[int]*proc    // started and not yet reaped, by pid

	sys sysState
}

// proc is one running process (or Go function).
type proc struct {
	id      uint64
	pid     int // 0 for a Func
	spec    *Spec
	started time.Time
	status  chan exitStatus // buffered 1; written once by the wait loop
	reaped  bool            // guarded by Service.mu; no more signals by pid
	sys     procSys         // platform part: the terminal
	// cancel ends a Func when it is signaled (nil for programs).
	cancel context.CancelCauseFunc
}

// exitStatus is what the wait loop hands to a waiter.
type exitStatus struct {
	code   int // exit code, -1 when signaled
	signal int // the killing signal, 0 if none
	err    error
}

func newService(opts Options) *Service {
	m := &Service{
		log:     opts.Logger,
		reap:    opts.Reap,
		funcs:   make(map[string]Func),
		procs:   make(map[uint64]*proc),
		waiters: make(map[int]*proc),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.pool.New = func() any { b := make([]byte, pumpBufferSize); return &b }
	return m
}

// Register adds process.start, process.signal, process.resize,
// process.list and process.kill to srv.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(methodStart, rpc.HandlerFunc(s.serveStart))
	srv.RegisterHandler(methodSignal, rpc.Unary(func(_ context.Context, req signalRequest) (struct{}, error) {
		return struct{}{}, s.signalID(methodSignal, req.ID, req.Signal)
	}))
	srv.RegisterHandler(methodKill, rpc.Unary(func(_ context.Context, req killRequest) (struct{}, error) {
		if req.Signal == "" {
			req.Signal = "KILL"
		}
		return struct{}{}, s.signalID(methodKill, req.ID, req.Signal)
	}))
	srv.RegisterHandler(methodResize, rpc.Unary(func(_ context.Context, req resizeRequest) (struct{}, error) {
		return struct{}{}, s.resizeID(req)
	}))
	srv.RegisterHandler(methodList, rpc.Unary(func(context.Context, struct{}) ([]Info, error) {
		return s.List(), nil
	}))
}

// RegisterFunc makes name run fn as a process: a Spec whose Path is name
// runs fn instead of a program. It panics if name is empty or contains
// '/', so that no program path can be shadowed.
func (s *Service) RegisterFunc(name string, fn Func) {
	if name == "" || strings.Contains(name, "/") || fn == nil {
		panic(fmt.Sprintf("process: RegisterFunc(%q): empty name, name with '/', or nil func", name))
	}
	s.fmu.Lock()
	s.funcs[name] = fn
	s.fmu.Unlock()
}

// List describes the processes running now, oldest first.
func (s *Service) List() []Info {
	s.mu.Lock()
	out := make([]Info, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, Info{ID: p.id, PID: p.pid, Path: p.spec.Path, Args: p.spec.Args,
			Shell: p.spec.Shell, User: p.spec.User, TTY: p.spec.TTY, Started: p.started})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// signalID delivers a signal to the process with id: its process group,
// or a Func's context.
func (s *Service) signalID(method string, id uint64, name string) error {
	sig, err := parseSignal(name)
	if err != nil {
		return rpc.Errorf(rpc.InvalidArgument, "%s: %w", method, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil {
		return rpc.Errorf(rpc.NotFound, "%s: no running process with id %d", method, id)
	}
	if p.cancel != nil {
		p.cancel(&signaled{sig})
		return nil
	}
	if err := s.signalLocked(p, sig); err != nil {
		return rpc.Errorf(rpc.CodeOf(err), "%s: process %d (pid %d): %w", method, id, p.pid, err)
	}
	return nil
}

// signaled is the cancel cause of a Func that got a signal.
type signaled struct{ sig int }

func (s *signaled) Error() string { return "process: " + signalName(s.sig) }

// register adds p under a fresh id. Called with mu held.
func (s *Service) registerLocked(p *proc) {
	s.nextID++
	p.id = s.nextID
	p.started = time.Now()
	s.procs[p.id] = p
	if p.pid > 0 {
		s.waiters[p.pid] = p
	}
}

func (s *Service) unregister(p *proc) {
	s.mu.Lock()
	delete(s.procs, p.id)
	s.mu.Unlock()
}

// errClosed is returned for calls that arrive after Close.
var errClosed = errors.New("process: service closed")

func (s *Service) lookupFunc(name string) Func {
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	return s.funcs[name]
}

// errTimeout is the cause of a context ended by Spec.Timeout.
var errTimeout = errors.New("process: timeout")

func (s *Service) serveStart(ctx context.Context, call *rpc.Request) (any, error) {
	var spec Spec
	if err := call.DecodeArgs(&spec); err != nil {
		return nil, err
	}
	if err := spec.check(); err != nil {
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: %w", methodStart, err)
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errTimeout)
		defer cancel()
	}
	if spec.Shell == "" {
		if fn := s.lookupFunc(spec.Path); fn != nil {
			if spec.TTY || spec.User != "" || len(spec.Groups) > 0 {
				return nil, rpc.Errorf(rpc.InvalidArgument, "%s: %q is a Go function, which runs as the agent without a terminal: tty, user and groups are not allowed", methodStart, spec.Path)
			}
			return s.runFunc(ctx, call, &spec, fn)
		}
	}
	return s.runExec(ctx, call, &spec)
}

// sendEvent writes ev as one DATA frame on the events lane.
func sendEvent(call *rpc.Request, ev event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = call.LaneWriter(LaneEvents).Write(b)
	return err
}

// runFunc runs a registered Go function as a process.
func (s *Service) runFunc(ctx context.Context, call *rpc.Request, spec *Spec, fn Func) (any, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := &proc{spec: spec, cancel: cancel}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %w", methodStart, errClosed)
	}
	s.registerLocked(p)
	s.mu.Unlock()
	defer s.unregister(p)
	if spec.Events {
		if err := sendEvent(call, event{Type: "started", ID: p.id}); err != nil {
			return nil, err
		}
	}
	stdin := io.Reader(strings.NewReader(""))
	if spec.Stdin {
		pr, pw := io.Pipe()
		go func() {
			_, err := io.Copy(pw, call)
			pw.CloseWithError(err)
		}()
		stop := context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
		defer stop()
		defer pr.Close()
		stdin = pr
	}
	fp := &FuncProcess{Name: spec.Path, Args: spec.Args, Env: spec.Env, Dir: spec.Dir, Stdin: stdin,
		Stdout: call.LaneWriter(LaneStdout), Stderr: call.LaneWriter(LaneStderr)}
	code, err := runGuarded(ctx, fn, fp)
	res := &Result{ID: p.id, ExitCode: code, Started: p.started, Ended: time.Now()}
	if err != nil {
		fmt.Fprintf(fp.Stderr, "%s: %v\n", spec.Path, err)
		if res.ExitCode == 0 {
			res.ExitCode = 1
		}
	}
	var sig *signaled
	switch cause := context.Cause(ctx); {
	case errors.As(cause, &sig):
		res.ExitCode, res.Signal = -1, signalName(sig.sig)
	case errors.Is(cause, errTimeout):
		res.ExitCode, res.Signal, res.TimedOut = -1, signalName(9), true
	case errors.Is(cause, errClosed):
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s: %w", methodStart, spec.Path, cause)
	case cause != nil: // the client canceled or the connection ended
		return nil, rpc.Errorf(rpc.Canceled, "%s: %s: %w", methodStart, spec.Path, cause)
	}
	s.log.Debug("process: function finished", "id", p.id, "name", spec.Path, "code", res.ExitCode, "signal", res.Signal)
	return res, nil
}

// runGuarded runs fn, turning a panic into an error and exit code 2.
func runGuarded(ctx context.Context, fn Func, fp *FuncProcess) (code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			code, err = 2, fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(ctx, fp)
}

// pumpBufferSize is the buffer of each stdio pump: half an rpc DATA
// frame, so a busy stdout goes out in large frames while 200 running
// processes hold at most 50 MiB of buffers.
const pumpBufferSize = 128 << 10
