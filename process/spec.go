package process

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Method names served by Service.Register and called by Client.
const (
	methodStart  = "process.start"
	methodSignal = "process.signal"
	methodResize = "process.resize"
	methodList   = "process.list"
	methodKill   = "process.kill"
)

// Lanes of a process.start stream, guest to host (see the package
// documentation). Host to guest, stdin is lane 0.
const (
	LaneStdout rpc.Lane = 0
	LaneStderr rpc.Lane = 1
	LaneEvents rpc.Lane = 2 // control events, one JSON object per DATA frame
)

// OutputGrace is how long a call waits for its output pipes to reach EOF
// after the main process has exited (the background child rule).
const OutputGrace = 100 * time.Millisecond

// Spec describes a process to start. Exactly one of Path and Shell is set.
type Spec struct {
	// Path is the program: an absolute path, a name looked up in the
	// PATH of the process's environment, or the name of a Go function
	// registered with Service.RegisterFunc.
	Path string `json:"path,omitempty"`
	// Args are the arguments after the program name (argv[1:]). With
	// Shell they follow the script as $0, $1, ...
	Args []string `json:"args,omitempty"`
	// Shell is a command line run with /bin/sh -c.
	Shell string `json:"shell,omitempty"`
	// Env holds KEY=VALUE entries added to (or, with ReplaceEnv,
	// replacing) the agent's environment.
	Env        []string `json:"env,omitempty"`
	ReplaceEnv bool     `json:"replace_env,omitempty"`
	// Dir is the working directory; empty means the agent's.
	Dir string `json:"dir,omitempty"`
	// User is a user name or "uid[:gid]"; empty means the agent's user.
	// With a name, HOME, USER and LOGNAME are set (unless in Env) and the
	// user's groups become the supplementary groups unless Groups is set.
	User string `json:"user,omitempty"`
	// Groups are supplementary groups, names or numeric ids.
	Groups []string `json:"groups,omitempty"`
	// TTY runs the process on a new pseudo-terminal of Rows x Cols
	// (default 24x80) as the leader of a new session.
	TTY  bool   `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Stdin forwards lane 0 of the stream to the process's stdin; without
	// it stdin is /dev/null (or, with TTY, the terminal with no input).
	Stdin bool `json:"stdin,omitempty"`
	// Timeout, if positive, kills the process group with SIGKILL once it
	// has run that long (in JSON: nanoseconds).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Events asks for the "started" event on lane 2, sent before any
	// output, carrying the id that process.signal, .resize and .kill
	// take. Client.Start sets it; Client.Run, needing no id, does not.
	Events bool `json:"events,omitempty"`
}

// check validates the parts of s that need no system lookups.
func (s *Spec) check() error {
	switch {
	case s.Path == "" && s.Shell == "":
		return errors.New("spec: neither path nor shell is set")
	case s.Path != "" && s.Shell != "":
		return fmt.Errorf("spec: both path %q and shell %q are set; give one", s.Path, s.Shell)
	case s.Timeout < 0:
		return fmt.Errorf("spec: timeout %v is negative", s.Timeout)
	case !s.TTY && (s.Rows != 0 || s.Cols != 0):
		return fmt.Errorf("spec: rows/cols %dx%d given without tty", s.Rows, s.Cols)
	}
	for _, kv := range s.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("spec: env entry %q is not KEY=VALUE", kv)
		}
	}
	for _, a := range s.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("spec: argument %q contains a NUL byte", a)
		}
	}
	return nil
}

// Result is how a process ended.
type Result struct {
	ID  uint64 `json:"id"`
	PID int    `json:"pid,omitempty"` // 0 for a Go-function process
	// ExitCode is the exit status, or -1 when a signal killed the process.
	ExitCode int `json:"exit_code"`
	// Signal names the signal that killed the process ("SIGKILL"), if any.
	Signal   string    `json:"signal,omitempty"`
	TimedOut bool      `json:"timed_out,omitempty"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
}

// exitErr returns nil for a clean exit and an *ExitError otherwise.
func (r *Result) exitErr() error {
	if r.ExitCode == 0 && r.Signal == "" && !r.TimedOut {
		return nil
	}
	return &ExitError{Result: *r}
}

// ExitError reports a process that exited non-zero, was killed by a
// signal, or timed out; Run and Process.Wait return it with the Result,
// and errors.As finds it. As with os/exec's ExitError, ExitCode is the
// process's exit code, or -1 when a signal killed it; Signal then names
// the signal ("SIGKILL"). A shell reports such a process as 128 plus the
// signal's number.
type ExitError struct {
	Result
}

func (e *ExitError) Error() string {
	var s string
	if e.Signal != "" {
		s = "process killed by signal " + e.Signal
	} else {
		s = fmt.Sprintf("process exited with code %d", e.ExitCode)
	}
	if e.TimedOut {
		s += " after its timeout"
	}
	return s
}

// Is makes errors.Is(err, context.DeadlineExceeded) true for a process
// killed by its Timeout.
func (e *ExitError) Is(target error) bool {
	return e.TimedOut && target == context.DeadlineExceeded
}

// event is a control message on lane 2.
type event struct {
	Type string `json:"type"` // "started"
	ID   uint64 `json:"id,omitempty"`
	PID  int    `json:"pid,omitempty"`
}

// signalRequest is the argument of process.signal.
type signalRequest struct {
	ID uint64 `json:"id"`
	// Signal is a name ("TERM", "SIGTERM") or a Linux signal number.
	Signal string `json:"signal"`
}

// resizeRequest is the argument of process.resize.
type resizeRequest struct {
	ID   uint64 `json:"id"`
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// killRequest is the argument of process.kill.
type killRequest struct {
	ID     uint64 `json:"id"`
	Signal string `json:"signal,omitempty"` // default "KILL"
}

// Info describes a running process in process.list.
type Info struct {
	ID      uint64    `json:"id"`
	PID     int       `json:"pid,omitempty"`
	Path    string    `json:"path,omitempty"`
	Args    []string  `json:"args,omitempty"`
	Shell   string    `json:"shell,omitempty"`
	User    string    `json:"user,omitempty"`
	TTY     bool      `json:"tty,omitempty"`
	Started time.Time `json:"started"`
}
