// Package process runs commands inside the guest and streams their stdio
// to the host.
//
// NewService is for programs that assemble their own rpc.Server:
// Register adds the process.* methods, RegisterFunc adds Go functions
// that run as processes, Close kills what still runs. agent.New
// registers a Service for you (Agent.Processes). NewClient is for hosts:
// Client.Run runs a command to completion, Client.Start starts one and
// returns a Process to Wait for, Signal, Resize or Kill; Client.List,
// Signal and Kill reach processes by id. A process that exits non-zero
// or is killed is an *ExitError (use errors.As).
//
// Port forwarding, net.dial, is package forward.
//
// # Methods
//
//	process.start   streaming; args: Spec; result: Result
//	process.signal  args: {"id": 3, "signal": "TERM"}; signals the process group
//	process.resize  args: {"id": 3, "rows": 24, "cols": 80}; TIOCSWINSZ on its terminal
//	process.list    result: []Info, the processes running now
//	process.kill    args: {"id": 3}; SIGKILL to the process group ("signal" overrides)
//
// A signal is a name, with or without "SIG" ("TERM", "SIGINT"), or a
// Linux signal number ("9"): the guest's numbering, whatever the host
// runs.
//
// # Lanes of process.start
//
// Host to guest: lane 0 carries stdin (only read when Spec.Stdin is set);
// the host's half-close (CloseWrite) is EOF on the process's stdin. With a
// TTY, half-close just stops forwarding; nothing is injected into the
// terminal.
//
// Guest to host: lane 0 (LaneStdout) carries stdout (with a TTY:
// everything the terminal prints), lane 1 (LaneStderr) stderr (unused
// with a TTY), and lane 2 (LaneEvents) control events, each one JSON
// object per DATA frame. With Spec.Events the first (and so far only)
// event is {"type":"started","id":3,"pid":1234}, sent before any output;
// it tells the host the id to use with process.signal, process.resize
// and process.kill (process.list shows it too). A call that fails to
// start ends with an error STATUS and no event. The Result repeats the
// id and pid.
//
// All lanes share the stream's flow-control window, so output is never
// buffered without bound: a host that stops reading stops the pumps, and
// a process writing more blocks on its pipe.
//
// # When a call ends: the background child rule
//
// A call completes when the main process (the one process.start created)
// has exited and its output is drained. Output is drained when every
// stdout/stderr pipe (or the terminal) reports EOF, or, if something else
// still holds them open — typically a background child such as
// `sh -c 'daemon & echo started'` — after a grace of OutputGrace (100ms)
// past the exit, whichever comes first. At the grace, bytes already
// sitting in the pipes are still read and sent; later output from the
// background child is discarded (its writes see EPIPE once the agent
// closes its ends). Background children are not killed when the main
// process exits; they are killed with the group on Timeout, on client
// cancel, by process.kill while the main process runs, and by
// Service.Close for processes still running.
//
// The call's Result says how the main process ended: ExitCode, or the
// Signal that killed it, with start and end times. On Timeout the whole
// process group is killed with SIGKILL and Result.TimedOut is set; if the
// client cancels, the group is killed the same way and no result is sent.
//
// # Waiting and reaping
//
// A call waits for its process first on its own thread: where the
// kernel has pidfds (Linux 5.3+) each child is started with one, and the
// call blocks in ppoll(2) on the pidfd and the output pipes, sending
// output as it comes and reaping the child itself the moment it exits.
// Most processes an agent runs end within this short wait (50ms), and
// the call then costs no goroutine hand-offs at all. A process that
// lives on, a terminal, or a kernel without pidfds is waited for through
// the netpoller instead: a goroutine pumps each output, and the pidfd (or
// SIGCHLD) wakes the call. A cancellation without a deadline is noticed
// at the end of the short wait at the latest; deadlines are exact.
//
// Calls reap their own pids (wait4 on that pid, under the Service's
// lock); a wait loop goroutine does the rest: it wakes on SIGCHLD for
// children without a pidfd, and does every wait when the Service reaps.
// Processes are started with syscall.ForkExec while a fork lock is held
// until the pid is registered; the loop takes that lock before it calls
// a pid it does not know an orphan, so a child that exits before it is
// registered is still handed to its call.
//
// With Options.Reap the Service becomes a child subreaper (unless it is
// already PID 1) and the loop waits with wait4(-1) on every wake-up:
// orphans reparented to the agent are reaped and logged, and nothing else
// in the program may wait for children (do not use exec.Cmd.Wait next to
// a reaping Service). Without Reap it waits only for the pids it started,
// so it coexists with os/exec; with pidfds it then does not even listen
// for SIGCHLD. As PID 1 the Service always reaps.
//
// Children start with default signal dispositions even when the agent
// inherited some as ignored (a shell's background job ignores SIGINT and
// SIGQUIT): the Service catches those itself while it is open, so that
// Ctrl-C forwarded by the host reaches the command.
//
// Every process is the leader of its own process group (with TTY, of its
// own session with the terminal as controlling tty); process.signal,
// process.kill, Timeout and cancellation all signal the whole group.
//
// # Go-function processes
//
// RegisterFunc names a Go function that runs as a process: Spec.Path
// equal to the name (which may not contain '/') runs the function with the
// spec's args, env and stdio instead of a program, from any transport.
// Signals and Timeout cancel the function's context; the call ends when
// the function returns, so a Func must honor its context. A Func runs as
// the agent, so TTY, User and Groups are refused for it.
package process
