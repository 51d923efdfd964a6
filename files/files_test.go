package files_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) {
	if os.Getenv("GUESTRPC_TEST_KILL_AGENT") != "" {
		runKilledAgent()
	}
	goleak.VerifyTestMain(m)
}

// env is a service over a temporary root and a client connected to it.
type env struct {
	root string
	svc  *files.Service
	c    *files.Client
}

func newEnv(t testing.TB, opts files.Options) *env { return newEnvWith(t, opts, files.NewService) }

// newEnvWith uses newSvc, NewService or NewPortableService.
func newEnvWith(t testing.TB, opts files.Options, newSvc func(files.Options) (*files.Service, error)) *env {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	svc, err := newSvc(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	return &env{root: svc.Root(), svc: svc, c: files.NewClient(testutil.Pair(t, srv))}
}

func (e *env) put(t testing.TB, name, content string) {
	t.Helper()
	p := filepath.Join(e.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) get(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantCode(t *testing.T, what string, err error, code rpc.Code) {
	t.Helper()
	if got := rpc.CodeOf(err); got != code {
		t.Fatalf("%s: code %v (%v), want %v", what, got, err, code)
	}
}

// TestOps runs every metadata operation against a fresh tree, with the
// status code it must end with.
func TestOps(t *testing.T) {
	ctx := context.Background()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		op    func(c *files.Client) error
		code  rpc.Code
		check func(t *testing.T, e *env)
	}{
		{name: "stat file", op: func(c *files.Client) error {
			fi, err := c.Stat(ctx, "a.txt")
			if err == nil && (fi.Size != 5 || fi.Name != "a.txt" || fi.IsDir()) {
				t.Errorf("stat: %+v", fi)
			}
			return err
		}},
		{name: "stat follows symlink", op: func(c *files.Client) error {
			fi, err := c.Stat(ctx, "link")
			if err == nil && (fi.Size != 5 || fi.Mode&fs.ModeSymlink != 0) {
				t.Errorf("stat: %+v", fi)
			}
			return err
		}},
		{name: "lstat symlink", op: func(c *files.Client) error {
			fi, err := c.Lstat(ctx, "link")
			if err == nil && (fi.Mode&fs.ModeSymlink == 0 || fi.Link != "a.txt") {
				t.Errorf("lstat: %+v", fi)
			}
			return err
		}},
		{name: "stat missing", op: func(c *files.Client) error { _, err := c.Stat(ctx, "nope"); return err }, code: rpc.NotFound},
		{name: "stat through a file", op: func(c *files.Client) error { _, err := c.Stat(ctx, "a.txt/x"); return err }, code: rpc.FailedPrecondition},
		{name: "list", op: func(c *files.Client) error {
			l, err := c.List(ctx, "dir")
			var names []string
			for _, fi := range l {
				names = append(names, fi.Name)
			}
			if diff := cmp.Diff([]string{"b.txt"}, names); err == nil && diff != "" {
				t.Errorf("list (-want +got):\n%s", diff)
			}
			return err
		}},
		{name: "list a file", op: func(c *files.Client) error { _, err := c.List(ctx, "a.txt"); return err }, code: rpc.FailedPrecondition},
		{name: "list missing", op: func(c *files.Client) error { _, err := c.List(ctx, "nope"); return err }, code: rpc.NotFound},
		{name: "chmod", op: func(c *files.Client) error { return c.Chmod(ctx, "a.txt", 0o600) }, check: func(t *testing.T, e *env) {
			if fi, _ := os.Stat(filepath.Join(e.root, "a.txt")); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", fi.Mode())
			}
		}},
		{name: "chmod missing", op: func(c *files.Client) error { return c.Chmod(ctx, "nope", 0o600) }, code: rpc.NotFound},
		{name: "chown to self", op: func(c *files.Client) error { return c.Chown(ctx, "a.txt", os.Getuid(), os.Getgid()) },
			check: wantOwner("a.txt", os.Getuid(), os.Getgid())},
		{name: "chown to another", op: func(c *files.Client) error {
			if os.Geteuid() != 0 {
				return c.Chown(ctx, "a.txt", -1, -1) // only root gives files away
			}
			return c.Chown(ctx, "a.txt", 4242, 4343)
		}, check: func(t *testing.T, e *env) {
			if os.Geteuid() == 0 {
				wantOwner("a.txt", 4242, 4343)(t, e)
			}
		}},
		{name: "chown missing", op: func(c *files.Client) error { return c.Chown(ctx, "nope", -1, -1) }, code: rpc.NotFound},
		{name: "lchown a symlink", op: func(c *files.Client) error {
			if os.Geteuid() != 0 {
				return c.Lchown(ctx, "link", -1, -1)
			}
			return c.Lchown(ctx, "link", 4242, 4343)
		}, check: func(t *testing.T, e *env) {
			if os.Geteuid() == 0 {
				wantOwner("link", 4242, 4343)(t, e)
				wantOwner("a.txt", os.Getuid(), os.Getgid())(t, e) // not followed
			}
		}},
		{name: "lchown a dangling symlink", op: func(c *files.Client) error { return c.Lchown(ctx, "dangling", -1, -1) }},
		{name: "chown a dangling symlink", op: func(c *files.Client) error { return c.Chown(ctx, "dangling", -1, -1) }, code: rpc.NotFound},
		{name: "lchown missing", op: func(c *files.Client) error { return c.Lchown(ctx, "nope", -1, -1) }, code: rpc.NotFound},
		{name: "chtimes", op: func(c *files.Client) error { return c.Chtimes(ctx, "a.txt", mtime, mtime) }, check: func(t *testing.T, e *env) {
			if fi, _ := os.Stat(filepath.Join(e.root, "a.txt")); !fi.ModTime().Equal(mtime) {
				t.Errorf("mtime %v", fi.ModTime())
			}
		}},
		{name: "chtimes missing", op: func(c *files.Client) error { return c.Chtimes(ctx, "nope", mtime, mtime) }, code: rpc.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Options{})
			e.put(t, "a.txt", "hello")
			e.put(t, "dir/b.txt", "world")
			if err := os.Symlink("a.txt", filepath.Join(e.root, "link")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("nowhere", filepath.Join(e.root, "dangling")); err != nil {
				t.Fatal(err)
			}
			wantCode(t, tt.name, tt.op(e.c), tt.code)
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// wantOwner checks the owner of name (not following a symlink).
func wantOwner(name string, uid, gid int) func(t *testing.T, e *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(e.root, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
		}
	}
}

// TestPermissionDeniedForOthers serves, as an unprivileged user, a file
// that user may not read: the read is refused with PermissionDenied. As
// root the test runs itself again as "nobody" (looked up, not assumed).
func TestPermissionDeniedForOthers(t *testing.T) {
	if dir := os.Getenv("GUESTRPC_TEST_FOREIGN_ROOT"); dir != "" {
		if want := os.Getenv("GUESTRPC_TEST_FOREIGN_UID"); strconv.Itoa(os.Geteuid()) != want {
			t.Fatalf("running as uid %d, want %s", os.Geteuid(), want)
		}
		permissionDenied(t, dir)
		return
	}
	dir, err := os.MkdirTemp("", "guestrpc-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(filepath.Join(dir, "secret"), 0); err != nil {
			t.Fatal(err)
		}
		permissionDenied(t, dir)
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, the test needs the user nobody to drop privileges: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	// The test binary's directory is closed to nobody: run a copy.
	bin := filepath.Join(dir, "files.test")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPermissionDeniedForOthers$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GUESTRPC_TEST_FOREIGN_ROOT="+dir, "GUESTRPC_TEST_FOREIGN_UID="+nobody.Uid)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPermissionDeniedForOthers") {
		t.Fatalf("as nobody (%d:%d): %v\n%s", uid, gid, err, out)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func permissionDenied(t *testing.T, dir string) {
	e := newEnv(t, files.Options{Root: dir})
	var buf bytes.Buffer
	_, err := e.c.Download(context.Background(), "secret", &buf, files.ReadOptions{})
	wantCode(t, "read unreadable", err, rpc.PermissionDenied)
	if buf.Len() != 0 {
		t.Errorf("read %d bytes of an unreadable file", buf.Len())
	}
}

func TestListPages(t *testing.T) {
	e := newEnv(t, files.Options{})
	const n = 2345
	var want []string
	for i := range n {
		name := "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i)
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(e.root, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages := 0
	var got []string
	err := e.c.ListFunc(context.Background(), ".", 100, func(p []files.FileInfo) error {
		if len(p) > 100 {
			t.Errorf("page of %d entries, asked for 100", len(p))
		}
		pages++
		for _, fi := range p {
			got = append(got, fi.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages < n/100 {
		t.Errorf("%d entries in %d pages, want at least %d pages", len(got), pages, n/100)
	}
	// Every name once: none dropped, none repeated.
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed names (-want +got):\n%s", diff)
	}
}
