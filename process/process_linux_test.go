package process_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a client of a fresh Service served over a unix socket.
func setup(t testing.TB, opts process.Options) (*process.Client, *process.Service) {
	t.Helper()
	return setupWith(t, process.NewService, opts)
}

// setupWith is setup with another constructor.
func setupWith(t testing.TB, newService func(process.Options) (*process.Service, error), opts process.Options) (*process.Client, *process.Service) {
	t.Helper()
	m, err := newService(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	m.Register(srv)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return process.NewClient(testutil.Pair(t, srv)), m
}

// testCtx bounds a test generously: it only catches hangs.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type outcome struct {
	Stdout, Stderr string
	Code           int
	Signal         string
	TimedOut       bool
	Err            string // rpc error code for calls that fail
}

func run(ctx context.Context, c *process.Client, spec process.Spec, stdin io.Reader) outcome {
	var out, errb bytes.Buffer
	res, err := c.Run(ctx, spec, stdin, &out, &errb)
	o := outcome{Stdout: out.String(), Stderr: errb.String()}
	if res != nil {
		o.Code, o.Signal, o.TimedOut = res.ExitCode, res.Signal, res.TimedOut
	}
	if err != nil && exitError(err) == nil {
		o.Err = rpc.CodeOf(err).String()
	}
	return o
}

// exitError is the *process.ExitError in err, or nil.
func exitError(err error) *process.ExitError {
	var e *process.ExitError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// lookupNobody returns the unprivileged account the tests switch to and
// the name of its primary group, as this machine defines them.
func lookupNobody(t *testing.T) (*user.User, string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		testenv.Missing(t, "a user named nobody to switch to: %v", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		testenv.Missing(t, "a name for nobody's primary group %s: %v", u.Gid, err)
	}
	return u, g.Name
}

func TestRun(t *testing.T) {
	c, _ := setup(t, process.Options{})
	nobody, nobodyGroup := lookupNobody(t)
	tests := []struct {
		name  string
		spec  process.Spec
		stdin string
		want  outcome
	}{
		{"exit 0", process.Spec{Path: "true"}, "", outcome{}},
		{"exit 1", process.Spec{Path: "/bin/false"}, "", outcome{Code: 1}},
		{"exit 255", process.Spec{Shell: "exit 255"}, "", outcome{Code: 255}},
		{"signal", process.Spec{Shell: "kill -TERM $$"}, "", outcome{Code: -1, Signal: "SIGTERM"}},
		{"stdout and stderr", process.Spec{Shell: "echo out; echo err >&2; echo out2"}, "",
			outcome{Stdout: "out\nout2\n", Stderr: "err\n"}},
		{"args", process.Spec{Path: "echo", Args: []string{"a b", "c"}}, "", outcome{Stdout: "a b c\n"}},
		{"shell args", process.Spec{Shell: `echo "$0-$1"`, Args: []string{"x", "y"}}, "", outcome{Stdout: "x-y\n"}},
		{"stdin", process.Spec{Path: "cat"}, "hello\n", outcome{Stdout: "hello\n"}},
		{"no stdin", process.Spec{Path: "cat"}, "", outcome{}},
		{"stdin not read", process.Spec{Shell: "exit 3"}, strings.Repeat("unread ", 1<<20), outcome{Code: 3}},
		{"env extends", process.Spec{Shell: `echo "$FOO" "${PATH:+path}"`, Env: []string{"FOO=bar"}}, "", outcome{Stdout: "bar path\n"}},
		{"env replaces", process.Spec{Path: "/usr/bin/env", Env: []string{"A=1", "B=2", "A=3"}, ReplaceEnv: true}, "", outcome{Stdout: "A=3\nB=2\n"}},
		{"dir", process.Spec{Path: "pwd", Dir: "/usr"}, "", outcome{Stdout: "/usr\n"}},
		{"user nobody", process.Spec{Shell: "id -un; id -u; echo $HOME", User: "nobody"}, "", outcome{Stdout: nobody.Username + "\n" + nobody.Uid + "\n" + nobody.HomeDir + "\n"}},
		{"uid:gid", process.Spec{Shell: "id -u; id -g", User: "1234:4321"}, "", outcome{Stdout: "1234\n4321\n"}},
		{"groups", process.Spec{Shell: "id -G", User: "nobody", Groups: []string{nobodyGroup, "5"}}, "", outcome{Stdout: nobody.Gid + " 5\n"}},
		{"no such program", process.Spec{Path: "no-such-program-here"}, "", outcome{Err: "NotFound"}},
		{"no such file", process.Spec{Path: "/no/such/file"}, "", outcome{Err: "NotFound"}},
		{"no such dir", process.Spec{Path: "true", Dir: "/no/such/dir"}, "", outcome{Err: "NotFound"}},
		{"no such user", process.Spec{Path: "true", User: "no-such-user-x"}, "", outcome{Err: "InvalidArgument"}},
		{"bad gid", process.Spec{Path: "true", User: "1:x"}, "", outcome{Err: "InvalidArgument"}},
		{"name with gid", process.Spec{Path: "true", User: "nobody:1"}, "", outcome{Err: "InvalidArgument"}},
		{"no such group", process.Spec{Path: "true", Groups: []string{"no-such-group-x"}}, "", outcome{Err: "InvalidArgument"}},
		{"size without tty", process.Spec{Path: "true", Rows: 5}, "", outcome{Err: "InvalidArgument"}},
		{"negative timeout", process.Spec{Path: "true", Timeout: -1}, "", outcome{Err: "InvalidArgument"}},
		{"not executable", process.Spec{Path: "/etc/passwd"}, "", outcome{Err: "PermissionDenied"}},
		{"path and shell", process.Spec{Path: "true", Shell: "true"}, "", outcome{Err: "InvalidArgument"}},
		{"nothing", process.Spec{}, "", outcome{Err: "InvalidArgument"}},
		{"bad env", process.Spec{Path: "true", Env: []string{"NOEQUALS"}}, "", outcome{Err: "InvalidArgument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			got := run(testCtx(t), c, tt.spec, stdin)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%+v (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

// TestExitError: ExitCode is the exit code, -1 for a signal, which
// Signal names; a clean exit is no error.
func TestExitError(t *testing.T) {
	c, _ := setup(t, process.Options{})
	type exit struct {
		ExitCode int
		Signal   string
	}
	tests := []struct {
		shell string
		want  *exit // nil: no error
	}{
		{"exit 0", nil},
		{"exit 1", &exit{1, ""}},
		{"exit 255", &exit{255, ""}},
		{"kill -KILL $$", &exit{-1, "SIGKILL"}},
		{"kill -TERM $$", &exit{-1, "SIGTERM"}},
	}
	for _, tt := range tests {
		res, err := c.Run(testCtx(t), process.Spec{Shell: tt.shell}, nil, nil, nil)
		var got *exit
		if e := exitError(err); e != nil {
			got = &exit{e.ExitCode, e.Signal}
			if e.Result != *res {
				t.Errorf("%q: ExitError's result %+v differs from Run's %+v", tt.shell, e.Result, *res)
			}
		} else if err != nil {
			t.Fatalf("%q: %v", tt.shell, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: (-want +got):\n%s", tt.shell, diff)
		}
	}
}

// TestClientSignal sends signals by id through Client.Signal: an
// uncaught one ends the process with ExitCode -1 and Signal naming it,
// a caught one runs the trap; bad names and ids are refused.
func TestClientSignal(t *testing.T) {
	c, _ := setup(t, process.Options{})
	const trap = "trap 'exit 7' USR1; echo ready; while :; do sleep 0.01; done"
	type exit struct {
		ExitCode int
		Signal   string
	}
	tests := []struct {
		name  string
		shell string
		sig   string
		id    uint64 // 0: the started process's
		code  rpc.Code
		want  exit
	}{
		{name: "TERM", sig: "TERM", want: exit{-1, "SIGTERM"}},
		{name: "SIGINT", sig: "SIGINT", want: exit{-1, "SIGINT"}},
		{name: "lower case", sig: "hup", want: exit{-1, "SIGHUP"}},
		{name: "number", sig: "9", want: exit{-1, "SIGKILL"}},
		{name: "caught", shell: trap, sig: "USR1", want: exit{7, ""}},
		{name: "bad name", sig: "NOPE", code: rpc.InvalidArgument, want: exit{-1, "SIGKILL"}},
		{name: "bad number", sig: "65", code: rpc.InvalidArgument, want: exit{-1, "SIGKILL"}},
		{name: "no such id", sig: "TERM", id: 1 << 40, code: rpc.NotFound, want: exit{-1, "SIGKILL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			spec := process.Spec{Path: "sleep", Args: []string{"100"}}
			var out testutil.LockedBuffer
			if tt.shell != "" {
				spec = process.Spec{Shell: tt.shell}
			}
			p, err := c.Start(ctx, spec, nil, &out, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.shell != "" {
				out.Wait(t, "ready\n")
			}
			id := p.ID
			if tt.id != 0 {
				id = tt.id
			}
			if err := c.Signal(ctx, id, tt.sig); rpc.CodeOf(err) != tt.code {
				t.Errorf("Signal(%d, %q) = %v, want code %v", id, tt.sig, err, tt.code)
			}
			if tt.code != rpc.OK {
				if err := c.Kill(ctx, p.ID); err != nil { // still running
					t.Fatal(err)
				}
			}
			_, err = p.Wait()
			e := exitError(err)
			if e == nil {
				t.Fatalf("Wait: %v, want an *ExitError", err)
			}
			if diff := cmp.Diff(tt.want, exit{e.ExitCode, e.Signal}); diff != "" {
				t.Errorf("exit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCatTenMiB(t *testing.T) {
	c, _ := setup(t, process.Options{})
	in := make([]byte, 10<<20)
	rand.Read(in)
	var out, errb bytes.Buffer
	if _, err := c.Run(testCtx(t), process.Spec{Path: "cat"}, bytes.NewReader(in), &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if !bytes.Equal(in, out.Bytes()) {
		t.Fatalf("cat returned %d bytes that differ from the %d sent", out.Len(), len(in))
	}
}

func TestSignalHandle(t *testing.T) {
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	var out testutil.LockedBuffer
	p, err := c.Start(ctx, process.Spec{Shell: "trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.01; done"}, nil, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	if err := p.Signal(ctx, "USR1"); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if e := exitError(err); e == nil || e.ExitCode != 7 {
		t.Fatalf("Wait: %v, want exit code 7", err)
	}
	if res.PID != p.PID || res.ID != p.ID {
		t.Errorf("result %+v does not match the started process %d/%d", res, p.ID, p.PID)
	}
	if got := out.String(); got != "ready\ngot-usr1\n" {
		t.Errorf("output %q", got)
	}
	if err := p.Signal(ctx, "TERM"); !errors.Is(err, rpc.ErrNotFound) {
		t.Errorf("signal after exit: %v, want NotFound", err)
	}
}

// waitFor polls cond for up to 30s (a hang detector, not a timing check).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 30s")
}

// TestIgnoredSignalsNotInherited: an agent started with SIGINT ignored
// (a background job of a shell) still gives its children the default.
// The test binary re-runs itself with SIGINT ignored from the start, as
// such an agent is: ignoring it here would leave the process's signal
// state changed for the tests that follow.
func TestIgnoredSignalsNotInherited(t *testing.T) {
	if os.Getenv(ignoredChildEnv) == "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		// trap "" INT: the shell ignores SIGINT, and exec keeps it so.
		cmd := exec.Command("sh", "-c", `trap "" INT; exec "$0" -test.run='^TestIgnoredSignalsNotInherited$' -test.count=1`, exe)
		cmd.Env = append(os.Environ(), ignoredChildEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the test run with SIGINT ignored: %v\n%s", err, out)
		}
		return
	}
	if !signal.Ignored(os.Interrupt) {
		t.Fatal("started without SIGINT ignored")
	}
	c, _ := setup(t, process.Options{})
	got := run(testCtx(t), c, process.Spec{Shell: `sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status`}, nil)
	mask, err := strconv.ParseUint(strings.TrimSpace(got.Stdout), 16, 64)
	if err != nil {
		t.Fatalf("SigIgn %q: %v", got.Stdout, err)
	}
	if mask&(1<<(int(syscall.SIGINT)-1)) != 0 {
		t.Errorf("child ignores SIGINT (SigIgn %#x)", mask)
	}
}

// ignoredChildEnv marks the run of TestIgnoredSignalsNotInherited that
// started with SIGINT ignored.
const ignoredChildEnv = "GUESTRPC_TEST_SIGINT_IGNORED"
