package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestTTY(t *testing.T) {
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	got := run(ctx, c, process.Spec{Shell: "test -t 0 && test -t 1 && echo tty-yes", TTY: true}, nil)
	if !strings.Contains(got.Stdout, "tty-yes") || got.Code != 0 {
		t.Errorf("test -t 0: %+v", got)
	}

	pr, pw := io.Pipe()
	defer pw.Close()
	var out testutil.LockedBuffer
	p, err := c.Start(ctx, process.Spec{Shell: "stty size; read x; stty size", TTY: true, Rows: 24, Cols: 80}, pr, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "24 80") })
	if err := p.Resize(ctx, 40, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err, out.String())
	}
	if !strings.Contains(out.String(), "40 100") {
		t.Errorf("after resize to 40x100, stty size printed %q", out.String())
	}
}

func TestResizeWithoutTTY(t *testing.T) {
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	p, err := c.Start(ctx, process.Spec{Path: "sleep", Args: []string{"100"}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Resize(ctx, 10, 10); !errors.Is(err, rpc.ErrFailedPrecondition) {
		t.Errorf("resize without tty: %v, want FailedPrecondition", err)
	}
	if err := p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Wait(); res == nil || res.Signal != "SIGKILL" {
		t.Errorf("after kill: %+v, want SIGKILL", res)
	}
}

// gone reports whether pid has exited (it may linger as a zombie of
// whoever adopted it).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

func TestTimeoutKillsGroup(t *testing.T) {
	c, _ := setup(t, process.Options{Reap: true})
	// sh must start its background child and print the child's pid before
	// the timeout; a slow machine (-race, shared cores) may not manage
	// that in a second, so a run that printed nothing is tried again with
	// twice the time rather than failing.
	for timeout := time.Second; ; timeout *= 2 {
		var out testutil.LockedBuffer
		p, err := c.Start(testCtx(t), process.Spec{Shell: "sleep 100 & echo $!; sleep 100", Timeout: timeout}, nil, &out, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Wait()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run: %v, want an ExitError matching context.DeadlineExceeded", err)
		}
		if res == nil || !res.TimedOut || res.Signal != "SIGKILL" {
			t.Fatalf("result %+v, want timed out by SIGKILL", res)
		}
		if out.String() == "" && timeout < 16*time.Second {
			t.Logf("sh printed nothing within %v; again with more time", timeout)
			continue
		}
		bg, err := strconv.Atoi(strings.TrimSpace(out.String()))
		if err != nil {
			t.Fatalf("background pid %q: %v", out.String(), err)
		}
		waitFor(t, func() bool { return gone(bg) })
		return
	}
}

func TestBackgroundChildDoesNotHang(t *testing.T) {
	c, _ := setup(t, process.Options{})
	var out, errb bytes.Buffer
	start := time.Now()
	_, err := c.Run(testCtx(t), process.Spec{Shell: "sleep 100 & echo $! >&2; echo hi"}, nil, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Run took %v: the background child held it", d)
	}
	if out.String() != "hi\n" {
		t.Errorf("stdout %q, want hi", out.String())
	}
	if bg, err := strconv.Atoi(strings.TrimSpace(errb.String())); err == nil {
		syscall.Kill(bg, syscall.SIGKILL)
	} else {
		t.Errorf("background pid %q: %v", errb.String(), err)
	}
}

func TestCancelKillsGroup(t *testing.T) {
	c, _ := setup(t, process.Options{Reap: true})
	ctx, cancel := context.WithCancel(testCtx(t))
	var out testutil.LockedBuffer
	p, err := c.Start(ctx, process.Spec{Shell: "sleep 100 & echo $!; sleep 100"}, nil, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.HasSuffix(out.String(), "\n") })
	cancel()
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v, want context.Canceled", err)
	}
	bg, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	waitFor(t, func() bool { return gone(p.PID) && gone(bg) })
	waitFor(t, func() bool {
		l, err := c.List(testCtx(t))
		return err == nil && len(l) == 0
	})
}

func TestListAndKill(t *testing.T) {
	lookupNobody(t)
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	p, err := c.Start(ctx, process.Spec{Path: "sleep", Args: []string{"100"}, User: "nobody"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []process.Info{{ID: p.ID, PID: p.PID, Path: "sleep", Args: []string{"100"}, User: "nobody"}}
	if diff := cmp.Diff(want, l, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Started" }, cmp.Ignore())); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if err := c.Kill(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait()
	if e := exitError(err); e == nil || e.Signal != "SIGKILL" {
		t.Errorf("Wait after kill: %v", err)
	}
	if err := c.Kill(ctx, 999); rpc.CodeOf(err) != rpc.NotFound {
		t.Errorf("kill of no process: %v, want NotFound", err)
	}
}

func TestConcurrentExecs(t *testing.T) {
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var out bytes.Buffer
			_, err := c.Run(ctx, process.Spec{Shell: `echo "$0"; exit $(($0 % 7))`, Args: []string{strconv.Itoa(i)}}, nil, &out, nil)
			if e := exitError(err); e != nil && e.ExitCode == i%7 {
				err = nil
			} else if err == nil && i%7 != 0 {
				err = fmt.Errorf("exec %d: exited 0, want %d", i, i%7)
			}
			if err == nil && out.String() != strconv.Itoa(i)+"\n" {
				err = fmt.Errorf("exec %d: stdout %q", i, out.String())
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestGoFunc(t *testing.T) {
	c, m := setup(t, process.Options{})
	m.RegisterFunc("upper", func(ctx context.Context, p *process.FuncProcess) (int, error) {
		b, err := io.ReadAll(p.Stdin)
		if err != nil {
			return 1, err
		}
		p.Stdout.Write(bytes.ToUpper(b))
		fmt.Fprint(p.Stderr, strings.Join(p.Args, ","))
		return len(p.Args), nil
	})
	m.RegisterFunc("fail", func(ctx context.Context, p *process.FuncProcess) (int, error) {
		return 0, errors.New("no luck")
	})
	m.RegisterFunc("block", func(ctx context.Context, p *process.FuncProcess) (int, error) {
		fmt.Fprintln(p.Stdout, "blocking")
		<-ctx.Done()
		return 0, nil
	})
	ctx := testCtx(t)
	tests := []struct {
		name  string
		spec  process.Spec
		stdin string
		want  outcome
	}{
		{"upper", process.Spec{Path: "upper", Args: []string{"a", "b"}}, "hello", outcome{Stdout: "HELLO", Stderr: "a,b", Code: 2}},
		{"no stdin", process.Spec{Path: "upper"}, "", outcome{}},
		{"no user switch", process.Spec{Path: "upper", User: "nobody"}, "", outcome{Err: "InvalidArgument"}},
		{"no tty", process.Spec{Path: "upper", TTY: true}, "", outcome{Err: "InvalidArgument"}},
		{"error", process.Spec{Path: "fail"}, "", outcome{Stderr: "fail: no luck\n", Code: 1}},
		{"timeout", process.Spec{Path: "block", Timeout: 50 * time.Millisecond}, "", outcome{Stdout: "blocking\n", Code: -1, Signal: "SIGKILL", TimedOut: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			if diff := cmp.Diff(tt.want, run(ctx, c, tt.spec, stdin)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	var out testutil.LockedBuffer
	p, err := c.Start(ctx, process.Spec{Path: "block"}, nil, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.String() == "blocking\n" })
	if err := p.Signal(ctx, "TERM"); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Wait(); res == nil || res.Signal != "SIGTERM" {
		t.Errorf("signaled func: %+v, want SIGTERM", res)
	}
}

// zombies counts children of this process that are zombies.
func zombies(t testing.TB) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self, n := os.Getpid(), 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(self) {
			n++
		}
	}
	return n
}

// TestReaperDoesNotRace runs 1000 short children that each leave an
// orphan behind, so the reaping loop's wait4(-1) sees our children and
// orphans interleaved: every status must reach its own call. It also
// runs (300 children) for the other ways the wait loop can work: without
// Reap, and without pidfds (SIGCHLD alone, as on kernels before 5.3).
func TestReaperDoesNotRace(t *testing.T) {
	tests := []struct {
		name string
		new  func(process.Options) (*process.Service, error)
		reap bool
		n    int
	}{
		{"reap", process.NewService, true, 1000},
		{"own", process.NewService, false, 300},
		{"reap without pidfds", process.NewServiceNoPidfd, true, 300},
		{"own without pidfds", process.NewServiceNoPidfd, false, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setupWith(t, tt.new, process.Options{Reap: tt.reap})
			ctx := testCtx(t)
			const par = 16
			sem := make(chan struct{}, par)
			errs := make(chan error, tt.n)
			for i := range tt.n {
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					script := `true >/dev/null 2>&1 & exit $(($0 % 256))`
					wantCode, wantSig := i%256, ""
					if i%10 == 9 {
						script, wantCode, wantSig = `true >/dev/null 2>&1 & kill -KILL $$`, -1, "SIGKILL"
					}
					res, err := c.Run(ctx, process.Spec{Shell: script, Args: []string{strconv.Itoa(i)}}, nil, nil, nil)
					if err != nil && exitError(err) == nil {
						errs <- fmt.Errorf("child %d: %w", i, err)
						return
					}
					if res.ExitCode != wantCode || res.Signal != wantSig {
						errs <- fmt.Errorf("child %d: exit %d signal %q, want %d %q", i, res.ExitCode, res.Signal, wantCode, wantSig)
						return
					}
					errs <- nil
				}()
			}
			for range tt.n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if tt.reap {
				waitFor(t, func() bool { return zombies(t) == 0 })
			}
		})
	}
}

// TestWithoutPidfds runs the basic cases with the SIGCHLD-only wait loop.
func TestWithoutPidfds(t *testing.T) {
	c, _ := setupWith(t, process.NewServiceNoPidfd, process.Options{})
	ctx := testCtx(t)
	for _, tt := range []struct {
		spec process.Spec
		want outcome
	}{
		{process.Spec{Shell: "echo hi; exit 3"}, outcome{Stdout: "hi\n", Code: 3}},
		{process.Spec{Shell: "kill -TERM $$"}, outcome{Code: -1, Signal: "SIGTERM"}},
		{process.Spec{Path: "sleep", Args: []string{"100"}, Timeout: 100 * time.Millisecond}, outcome{Code: -1, Signal: "SIGKILL", TimedOut: true}},
	} {
		if diff := cmp.Diff(tt.want, run(ctx, c, tt.spec, nil)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tt.spec, diff)
		}
	}
}

func TestCloseKillsChildren(t *testing.T) {
	c, m := setup(t, process.Options{})
	ctx := testCtx(t)
	p, err := c.Start(ctx, process.Spec{Path: "sleep", Args: []string{"100"}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if res != nil && res.Signal != "SIGKILL" || res == nil && !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("Wait after Close: %+v, %v", res, err)
	}
	if _, err := c.Run(ctx, process.Spec{Path: "true"}, nil, nil, nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Errorf("Run after Close: %v, want Unavailable", err)
	}
}

// TestOutputBeforeExitIsDelivered: a background child keeps stdout open,
// so the call ends at the grace, yet every byte the main process wrote
// before it exited arrives.
func TestOutputBeforeExitIsDelivered(t *testing.T) {
	c, _ := setup(t, process.Options{})
	for _, tty := range []bool{false, true} {
		var out, errb bytes.Buffer
		spec := process.Spec{Shell: `sleep 100 & echo $! >&2; head -c 200000 /dev/zero | tr '\0' x`, TTY: tty}
		if tty {
			spec.Shell = `sleep 100 >/dev/null 2>&1 & head -c 200000 /dev/zero | tr '\0' x`
		}
		if _, err := c.Run(testCtx(t), spec, nil, &out, &errb); err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat("x", 200000); out.String() != want {
			t.Errorf("tty %v: got %d bytes of output, want 200000 x's", tty, out.Len())
		}
		if bg, err := strconv.Atoi(strings.TrimSpace(errb.String())); err == nil {
			syscall.Kill(bg, syscall.SIGKILL)
		}
	}
}
