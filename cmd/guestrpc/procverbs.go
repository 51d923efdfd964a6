package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// runPs is `guestrpc ps [--json]`.
func runPs(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("ps", "[--json]", "Lists the processes the agent runs (exec, cp helpers, call process.start), oldest first.\n"+
		"ID is what kill takes; commands started with `start` are the guest's, not the agent's (kill -p PID).", stderr)
	asJSON := fset.Bool("json", false, "one JSON object per process")
	if err := parse(fset, args, 0, 0); err != nil {
		return exitUsage, err
	}
	procs, err := process.NewClient(c).List(ctx)
	if err != nil {
		return exitFor(err), err
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%-6s %-7s %-8s %-3s %-20s %s\n", "ID", "PID", "USER", "TTY", "STARTED", "COMMAND")
	}
	for _, p := range procs {
		if *asJSON {
			writeJSON(stdout, p)
			continue
		}
		cmd := p.Shell
		if cmd == "" {
			cmd = strings.Join(append([]string{p.Path}, p.Args...), " ")
		}
		user, tty := p.User, "-"
		if user == "" {
			user = "-"
		}
		if p.TTY {
			tty = "yes"
		}
		fmt.Fprintf(stdout, "%-6d %-7d %-8s %-3s %-20s %s\n", p.ID, p.PID, user, tty, p.Started.Local().Format(time.DateTime), cmd)
	}
	return exitOK, nil
}

// runKill is `guestrpc kill [-s SIG] [-p] ID...`.
func runKill(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("kill", "[-s SIG] [-p] ID...", "Sends SIG to the process group of each process the agent runs (IDs from ps);\n"+
		"with -p, to guest pids instead (as from start), through the guest's kill.", stderr)
	sig := fset.String("s", "KILL", "`SIG`nal: a name (TERM, SIGINT) or a number")
	pids := fset.Bool("p", false, "the arguments are guest pids, not agent ids")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	name := strings.TrimPrefix(strings.ToUpper(*sig), "SIG")
	if name == "" {
		return exitUsage, usageErrorf("signal %q is empty", *sig)
	}
	for _, a := range fset.Args() {
		if n, err := strconv.ParseUint(a, 10, 64); err != nil || n == 0 {
			return exitUsage, usageErrorf("%q is not a process id", a)
		}
	}
	if *pids {
		return killPids(ctx, c, name, fset.Args())
	}
	pc := process.NewClient(c)
	return eachPath(fset.Args(), stderr, "kill", func(a string) error {
		n, _ := strconv.ParseUint(a, 10, 64)
		return pc.Signal(ctx, n, name)
	})
}

// killPids runs the guest's kill on guest pids.
func killPids(ctx context.Context, c *rpc.Client, sig string, pids []string) (int, error) {
	args := []string{"-s", sig}
	if _, err := strconv.Atoi(sig); err == nil {
		args = []string{"-" + sig}
	}
	var errOut bytes.Buffer
	_, err := process.NewClient(c).Run(ctx, process.Spec{Path: "kill", Args: append(args, pids...)}, nil, nil, &limitedWriter{w: &errOut, n: 4 << 10})
	var e *process.ExitError
	if errors.As(err, &e) {
		return exitFailed, fmt.Errorf("guest kill %s: exit %d: %s", strings.Join(pids, " "), e.ExitCode, strings.TrimSpace(errOut.String()))
	}
	return exitFor(err), err
}

// startScript starts "$0" "$@" in a new session with its stdio on
// /dev/null, prints its pid and exits, leaving it running: the agent
// only kills the process groups of calls still running. setsid run by
// setsid forks (util-linux's and busybox's alike, the inner one being a
// group leader), so the command keeps SIGINT and SIGQUIT, which sh's
// background jobs ignore; the pid comes back through a FIFO, so this
// script outlasts the child's echo, which the agent's output grace
// after the leader exits would not wait for. Without setsid or mkfifo
// the command is a background job.
const startScript = `command -v "$0" >/dev/null 2>&1 || { echo "$0: command not found" >&2; exit 127; }
if ! command -v setsid >/dev/null 2>&1 || ! command -v mkfifo >/dev/null 2>&1; then
	"$0" "$@" </dev/null >/dev/null 2>&1 &
	echo $!
	exit 0
fi
d=$(mktemp -d) && mkfifo "$d/pid" || exit 1
setsid setsid sh -c 'echo $$ >"$1"; shift; exec "$@" </dev/null >/dev/null 2>&1' sh "$d/pid" "$0" "$@" </dev/null >/dev/null 2>&1
read -r pid <"$d/pid"
rm -rf "$d"
echo "$pid"`

// startTimeout bounds the start script.
const startTimeout = 30 * time.Second

// runStart is `guestrpc start [-u USER] [-e K=V] [-w DIR] -- CMD [ARGS...]`.
func runStart(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("start", "[-u USER] [-e K=V]... [-w DIR] [--json] -- CMD [ARGS...]", "Starts CMD in the guest detached (a new session, stdio on /dev/null) and prints its guest pid.\n"+
		"It outlives this command and the connection; stop it with kill -p PID. A CMD not found is status 3.", stderr)
	user := fset.String("u", "", "run as `USER`: a name or uid[:gid]")
	dir := fset.String("w", "", "working `DIR` in the guest")
	asJSON := fset.Bool("json", false, `print {"pid":N}`)
	var env envFlags
	fset.Var(&env, "e", "set `K=V` in the command's environment (repeatable)")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	var out, errOut bytes.Buffer
	// The timeout ends a script whose child never wrote its pid; the
	// command, in its own session, is out of its reach.
	spec := process.Spec{Shell: startScript, Args: fset.Args(), Env: env, Dir: *dir, User: *user, Timeout: startTimeout}
	_, err := process.NewClient(c).Run(ctx, spec, nil, &limitedWriter{w: &out, n: 64}, &limitedWriter{w: &errOut, n: 4 << 10})
	var e *process.ExitError
	if errors.As(err, &e) {
		msg := fmt.Errorf("%s: %w: %s", fset.Arg(0), e, strings.TrimSpace(errOut.String()))
		if e.TimedOut {
			msg = fmt.Errorf("%s: the guest reported no pid within %v (%s)", fset.Arg(0), startTimeout, strings.TrimSpace(errOut.String()))
		}
		if e.ExitCode == 127 {
			return exitNotFound, msg
		}
		return exitFailed, msg
	}
	if err != nil {
		return exitFor(err), err
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(out.String()))
	if perr != nil {
		return exitFailed, fmt.Errorf("%s: the guest shell printed %q, not a pid", fset.Arg(0), out.String())
	}
	if *asJSON {
		writeJSON(stdout, map[string]int{"pid": pid})
	} else {
		fmt.Fprintln(stdout, pid)
	}
	return exitOK, nil
}

// runGetenv is `guestrpc getenv [--json] [NAME...]`.
func runGetenv(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("getenv", "[--json] [NAME...]", "Prints the environment a command started by the agent gets (NAME=VALUE lines),\n"+
		"or only the NAMEs given; a NAME that is not set is status 3.", stderr)
	asJSON := fset.Bool("json", false, "one JSON object of all the variables printed")
	if err := parse(fset, args, 0, -1); err != nil {
		return exitUsage, err
	}
	var out bytes.Buffer
	if _, err := process.NewClient(c).Run(ctx, process.Spec{Path: "env"}, nil, &limitedWriter{w: &out, n: 1 << 20}, nil); err != nil {
		return exitFor(err), fmt.Errorf("running env in the guest: %w", err)
	}
	env := parseEnv(out.String())
	names := fset.Args()
	if len(names) == 0 {
		names = sortedKeys(env)
	}
	shown := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		v, ok := env[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		shown[n] = v
		if !*asJSON {
			fmt.Fprintf(stdout, "%s=%s\n", n, v)
		}
	}
	if *asJSON {
		writeJSON(stdout, shown)
	}
	if len(missing) > 0 {
		return exitNotFound, fmt.Errorf("not set in the guest: %s", strings.Join(missing, " "))
	}
	return exitOK, nil
}

// parseEnv parses env's NAME=VALUE lines; a line without '=' continues
// the value before it (a value with a newline).
func parseEnv(s string) map[string]string {
	env := make(map[string]string)
	last := ""
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			if last != "" {
				env[last] += "\n" + line
			}
			continue
		}
		env[k], last = v, k
	}
	return env
}

// limitedWriter keeps the first n bytes written and discards the rest,
// so a chatty guest command cannot grow our memory.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(p)), l.n)
		l.n -= k
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
