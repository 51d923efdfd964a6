package process

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysState is the Linux part of a Service: the wait loop.
type sysState struct {
	sigc       chan os.Signal
	kicks      chan int // pids a call saw exit (through its pidfd)
	pidfds     bool     // children are started with pidfds
	stop       chan struct{}
	done       chan struct{}
	subreaper  bool // we set PR_SET_CHILD_SUBREAPER and unset it on Close
	closeGrace time.Duration
	devNull    int // /dev/null, every process's stdin unless it has one
	// shortWait is how long a call waits for its process on its own
	// thread before it hands the wait to the netpoller (waitShort);
	// longWaits counts the calls that did.
	shortWait time.Duration
	longWaits atomic.Uint64
	// unignore receives (and drops) the signals the agent inherited as
	// ignored, so that children start with them at their defaults.
	unignore chan os.Signal
}

// resettable are the signals whose inherited SIG_IGN the Service keeps
// from passing on to its children (see unignore).
func resettable() []os.Signal {
	return []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}
}

// NewService returns a Service whose wait loop is running. With
// opts.Reap it also becomes a child subreaper (unless it is PID 1); as
// PID 1 it always reaps, since nobody else will.
//
// A signal the agent inherited as ignored (say SIGINT, when a shell
// started it in the background) would stay ignored in every child, and
// Ctrl-C would not reach them. So the Service catches such signals
// itself, dropping them, which keeps them harmless to the agent while
// children start with the default; Close restores the SIG_IGN.
func NewService(opts Options) (*Service, error) { return newLinuxService(opts, havePidfd()) }

// newLinuxService is NewService; pidfds false starts children without
// pidfds and waits on SIGCHLD alone, as on kernels before 5.3.
func newLinuxService(opts Options, pidfds bool) (*Service, error) {
	if os.Getpid() == 1 {
		opts.Reap = true
	}
	m := newService(opts)
	devNull, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process: opening %s: %w", os.DevNull, err)
	}
	m.sys.devNull = devNull
	if opts.Reap && os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			syscall.Close(devNull)
			return nil, fmt.Errorf("process: becoming a child subreaper: %w", err)
		}
		m.sys.subreaper = true
	}
	m.sys.sigc = make(chan os.Signal, 1)
	m.sys.kicks = make(chan int, 16)
	m.sys.stop = make(chan struct{})
	m.sys.done = make(chan struct{})
	m.sys.closeGrace = 2 * time.Second
	m.sys.shortWait = shortWait
	// Without Reap, and where the kernel has pidfds, every call learns of
	// its process's exit through the pidfd and kicks the loop, so SIGCHLD
	// is only listened to once a process lacks one (see needSIGCHLD).
	m.sys.pidfds = pidfds
	if opts.Reap || !pidfds {
		m.needSIGCHLD()
	}
	var ignored []os.Signal
	for _, sig := range resettable() {
		if signal.Ignored(sig) {
			ignored = append(ignored, sig)
		}
	}
	if len(ignored) > 0 {
		m.sys.unignore = make(chan os.Signal, 1)
		signal.Notify(m.sys.unignore, ignored...)
		m.log.Debug("process: children get default dispositions for inherited ignored signals", "signals", ignored)
	}
	go m.waitLoop()
	if opts.Reap {
		m.sys.sigc <- syscall.SIGCHLD // reap what exited before we started listening
	}
	return m, nil
}

// waitLoop waits for the children no call reaps itself: those without a
// pidfd, and with Reap every child (see exited).
func (s *Service) waitLoop() {
	defer close(s.sys.done)
	for {
		select {
		case <-s.sys.sigc:
		case pid := <-s.sys.kicks:
			if !s.reap {
				if !s.reapPid(pid) {
					// readable pidfd, yet not waitable: look again shortly
					time.AfterFunc(time.Millisecond, func() { s.kick(pid) })
				}
				continue
			}
		case <-s.sys.stop:
			return
		}
		if s.reap {
			s.reapAll()
		} else {
			s.reapOwn()
		}
	}
}

// reapAll waits for any child until none has exited. A pid nobody waits
// for is an orphan (or a child that syscall.ForkExec failed to exec): it
// is reaped and logged. The lookup takes mu, which every start holds from
// fork to registration, so a child that exits at once is never mistaken
// for an orphan.
func (s *Service) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if p := s.claim(pid); p != nil {
			p.status <- toExit(ws)
		} else {
			s.log.Debug("process: reaped an orphan", "pid", pid, "status", describe(ws))
		}
	}
}

// claim removes and returns the waiter for pid, a child just reaped. A
// pid not registered yet may belong to a start still between fork and
// registration, which holds forkMu: so claim looks again once it has
// forkMu before it calls pid an orphan (or a child syscall.ForkExec
// failed to exec). Known pids never wait for a fork.
func (s *Service) claim(pid int) *proc {
	s.mu.Lock()
	p := s.waiters[pid]
	s.mu.Unlock()
	if p == nil {
		s.forkMu.Lock()
		s.mu.Lock()
		p = s.waiters[pid]
		s.mu.Unlock()
		s.forkMu.Unlock()
	}
	if p == nil {
		return nil
	}
	s.mu.Lock()
	delete(s.waiters, pid)
	p.reaped = true
	s.mu.Unlock()
	return p
}

// reapOwn waits only for the children the Service started. It holds
// forkMu so that no start is between fork and registration: a child that
// exited at once is then registered and found.
func (s *Service) reapOwn() {
	s.forkMu.Lock()
	defer s.forkMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, p := range s.waiters {
		s.tryReapLocked(pid, p)
	}
}

// havePidfd reports whether the kernel has pidfds (Linux 5.3+).
func havePidfd() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// needSIGCHLD makes the loop wake on SIGCHLD from now on, then sweeps
// once for anything that exited before.
func (s *Service) needSIGCHLD() {
	signal.Notify(s.sys.sigc, syscall.SIGCHLD)
	select {
	case s.sys.sigc <- syscall.SIGCHLD:
	default:
	}
}

// exited reaps pid, which its pidfd says has exited. Without Reap the
// calling goroutine does the wait4 itself, under mu as reapOwn does,
// which spares two goroutine hand-offs on every exit; with Reap only the
// loop may wait (its wait4(-1) takes pids before it holds mu), so exited
// kicks it. A pid not yet waitable goes to the loop, which looks again.
func (s *Service) exited(pid int) {
	if s.reap || !s.reapPid(pid) {
		s.kick(pid)
	}
}

// kick asks the wait loop to reap pid, which has exited.
func (s *Service) kick(pid int) {
	select {
	case s.sys.kicks <- pid:
	case <-s.sys.stop:
	}
}

// reapPid waits for one child the Service started, if it has exited.
// It reports false if the child is still there to be waited for.
func (s *Service) reapPid(pid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.waiters[pid]
	if p == nil {
		return true
	}
	return s.tryReapLocked(pid, p)
}

// tryReapLocked waits for pid without blocking and, if it has exited (or
// cannot be waited for), hands its status to p. It reports whether pid
// is done with. Called with m.mu held.
func (s *Service) tryReapLocked(pid int, p *proc) bool {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	for errors.Is(err, syscall.EINTR) {
		got, err = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
	switch {
	case got == pid:
		p.status <- toExit(ws)
	case err != nil: // ECHILD: someone else waited for it
		p.status <- exitStatus{code: -1, err: fmt.Errorf("process: waiting for pid %d: %w", pid, err)}
	default:
		return false
	}
	delete(s.waiters, pid)
	p.reaped = true
	return true
}

func toExit(ws syscall.WaitStatus) exitStatus {
	if ws.Signaled() {
		return exitStatus{code: -1, signal: int(ws.Signal())}
	}
	return exitStatus{code: ws.ExitStatus()}
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return signalName(int(ws.Signal()))
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

// signalLocked signals p's process group. Called with mu held, so a pid
// that has been reaped (and may be reused) is never signaled.
func (s *Service) signalLocked(p *proc, sig int) error {
	if p.reaped {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.Signal(sig)); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill(-%d, %s): %w", p.pid, signalName(sig), err)
	}
	return nil
}

// Close kills every running process group (and cancels every Func),
// waits briefly for them to be reaped, then stops the wait loop. Calls
// still waiting fail with Unavailable. Close is idempotent.
func (s *Service) Close() error {
	s.forkMu.Lock() // no start is between fork and registration
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.forkMu.Unlock()
		return nil
	}
	s.closed = true
	for _, p := range s.procs {
		if p.cancel != nil {
			p.cancel(errClosed)
		} else {
			_ = s.signalLocked(p, int(syscall.SIGKILL))
		}
	}
	s.mu.Unlock()
	s.forkMu.Unlock()
	deadline := time.Now().Add(s.sys.closeGrace)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.waiters)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case s.sys.sigc <- syscall.SIGCHLD:
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(s.sys.stop)
	<-s.sys.done
	signal.Stop(s.sys.sigc)
	if s.sys.unignore != nil {
		signal.Stop(s.sys.unignore)
	}
	s.mu.Lock()
	for pid, p := range s.waiters {
		delete(s.waiters, pid)
		p.reaped = true
		p.status <- exitStatus{code: -1, err: errClosed}
	}
	s.mu.Unlock()
	syscall.Close(s.sys.devNull)
	if s.sys.subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("process: clearing child subreaper: %w", err)
		}
	}
	return nil
}
