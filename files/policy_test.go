package files_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestPolicy tries every way out of the root: "..", absolute paths and
// symlinks (absolute and relative) to a directory outside it.
func TestPolicy(t *testing.T) {
	for _, tree := range trees() {
		t.Run(tree.name, func(t *testing.T) { testPolicy(t, tree.new) })
	}
}

// trees are the two resolvers: openat2 where the kernel has it, and the
// portable os.Root walk.
func trees() []struct {
	name string
	new  func(files.Options) (*files.Service, error)
} {
	return []struct {
		name string
		new  func(files.Options) (*files.Service, error)
	}{
		{"default", newDefaultService},
		{"portable", files.NewPortableService},
	}
}

// newDefaultService is NewService, refusing to test the os.Root tree
// under the name of the openat2 one: on Linux the default must be
// openat2's.
func newDefaultService(opts files.Options) (*files.Service, error) {
	s, err := files.NewService(opts)
	if err == nil && runtime.GOOS == "linux" {
		if kind := files.TreeKind(s); kind != "*files.beneathTree" {
			s.Close()
			return nil, fmt.Errorf("default tree is %s, want *files.beneathTree (openat2)", kind)
		}
	}
	return s, err
}

func testPolicy(t *testing.T, newSvc func(files.Options) (*files.Service, error)) {
	ctx := context.Background()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		do   func(c *files.Client, p string) error
	}{
		{"stat", func(c *files.Client, p string) error { _, err := c.Stat(ctx, p); return err }},
		{"list", func(c *files.Client, p string) error { _, err := c.List(ctx, p); return err }},
		{"read", func(c *files.Client, p string) error {
			_, err := c.Download(ctx, p, io.Discard, files.ReadOptions{})
			return err
		}},
		{"write", func(c *files.Client, p string) error {
			_, err := c.Upload(ctx, strings.NewReader("x"), p, files.WriteOptions{})
			return err
		}},
		{"mkdir", func(c *files.Client, p string) error { return c.MkdirAll(ctx, p+"/d", 0) }},
		{"remove", func(c *files.Client, p string) error { return c.RemoveAll(ctx, p) }},
		{"chmod", func(c *files.Client, p string) error { return c.Chmod(ctx, p, 0o777) }},
		{"chtimes", func(c *files.Client, p string) error { return c.Chtimes(ctx, p, time.Now(), time.Now()) }},
		{"rename", func(c *files.Client, p string) error { return c.Rename(ctx, p, "moved") }},
		{"archive", func(c *files.Client, p string) error {
			_, err := c.ArchiveGet(ctx, p, io.Discard, files.ArchiveOptions{})
			return err
		}},
	}
	paths := []string{
		"../secret",
		"a/../../secret",
		filepath.Join(outside, "secret"),
		"abs/secret",   // abs -> outside (absolute symlink)
		"rel/secret",   // rel -> ../outside (relative symlink)
		"chain/secret", // chain -> rel -> ../outside
	}
	for _, call := range calls {
		for _, p := range paths {
			t.Run(call.name+"/"+p, func(t *testing.T) {
				e := newEnvWith(t, files.Options{}, newSvc)
				relOut, err := filepath.Rel(e.root, outside)
				for _, err := range []error{
					err,
					os.Symlink(outside, filepath.Join(e.root, "abs")),
					os.Symlink(relOut, filepath.Join(e.root, "rel")),
					os.Symlink("rel", filepath.Join(e.root, "chain")),
				} {
					if err != nil {
						t.Fatal(err)
					}
				}
				err = call.do(e.c, p)
				wantCode(t, call.name, err, rpc.PermissionDenied)
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name the path %q", err, p)
				}
				b, rerr := os.ReadFile(filepath.Join(outside, "secret"))
				if rerr != nil || string(b) != "s" {
					t.Fatalf("outside file changed: %q %v", b, rerr)
				}
				entries, _ := os.ReadDir(outside)
				if len(entries) != 1 {
					t.Fatalf("outside directory changed: %v", entries)
				}
			})
		}
	}
}

// TestSymlinkInsideRoot follows a symlink that stays inside the root.
func TestSymlinkInsideRoot(t *testing.T) {
	e := newEnv(t, files.Options{})
	e.put(t, "real/f", "data")
	os.Symlink("real", filepath.Join(e.root, "alias"))
	os.Symlink(filepath.Join(e.root, "real"), filepath.Join(e.root, "absalias"))
	for _, p := range []string{"alias/f", filepath.Join(e.root, "alias/f")} {
		var buf bytes.Buffer
		if _, err := e.c.Download(context.Background(), p, &buf, files.ReadOptions{}); err != nil || buf.String() != "data" {
			t.Errorf("%s: %q %v", p, buf.String(), err)
		}
	}
	// An absolute symlink is resolved beneath the root, where its target
	// path does not exist (openat2) or is refused (os.Root): either way
	// nothing outside is reached.
	_, err := e.c.Stat(context.Background(), "absalias/f")
	if c := rpc.CodeOf(err); c != rpc.PermissionDenied && c != rpc.NotFound {
		t.Errorf("absolute symlink: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, files.Options{ReadOnly: true})
	e.put(t, "f", "data")
	mutations := map[string]error{
		"write":   func() error { _, err := e.c.Upload(ctx, strings.NewReader("x"), "f", files.WriteOptions{}); return err }(),
		"mkdir":   e.c.Mkdir(ctx, "d", 0),
		"remove":  e.c.Remove(ctx, "f"),
		"rename":  e.c.Rename(ctx, "f", "g"),
		"chmod":   e.c.Chmod(ctx, "f", 0o600),
		"chown":   e.c.Chown(ctx, "f", -1, -1),
		"chtimes": e.c.Chtimes(ctx, "f", time.Now(), time.Now()),
		"mktemp":  func() error { _, err := e.c.CreateTemp(ctx, "", ""); return err }(),
		"archive": func() error {
			_, err := e.c.ArchivePut(ctx, strings.NewReader(""), "d", files.ArchiveOptions{})
			return err
		}(),
	}
	for name, err := range mutations {
		if rpc.CodeOf(err) != rpc.PermissionDenied {
			t.Errorf("%s in read-only mode: %v", name, err)
		}
	}
	if got := e.get(t, "f"); got != "data" {
		t.Errorf("file changed to %q", got)
	}
	if _, err := e.c.Stat(ctx, "f"); err != nil {
		t.Errorf("stat in read-only mode: %v", err)
	}
}

// TestSymlinkSwappedDuringWrite replaces the target's directory with a
// symlink out of the root while a write streams: the write lands in the
// directory it started in (held by descriptor), never outside.
func TestSymlinkSwappedDuringWrite(t *testing.T) {
	for _, tree := range trees() {
		t.Run(tree.name, func(t *testing.T) { testSymlinkSwapped(t, tree.new) })
	}
}

func testSymlinkSwapped(t *testing.T, newSvc func(files.Options) (*files.Service, error)) {
	ctx := context.Background()
	outside := t.TempDir()
	e := newEnvWith(t, files.Options{}, newSvc)
	e.put(t, "sub/f", "old")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Upload(ctx, pr, "sub/f", files.WriteOptions{})
		done <- err
	}()
	pw.Write(bytes.Repeat([]byte("a"), 64<<10))
	// Wait for the agent's temporary file (named, or unnamed and open):
	// the write is under way.
	for i := 0; len(temps(e.root)) == 0 && !unnamedOpen(e.root); i++ {
		if i > 1000 {
			t.Fatal("no temporary file appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.Rename(filepath.Join(e.root, "sub"), filepath.Join(e.root, "sub.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "sub")); err != nil {
		t.Fatal(err)
	}
	pw.Write(bytes.Repeat([]byte("b"), 64<<10))
	pw.Close()
	if err := <-done; err != nil && rpc.CodeOf(err) != rpc.PermissionDenied {
		t.Fatalf("upload: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("write reached outside the root: %v", entries)
	}
	if got := e.get(t, "sub.old/f"); len(got) != 128<<10 && got != "old" {
		t.Errorf("sub.old/f holds %d bytes", len(got))
	}
	assertNoTemps(t, e.root)
	// A write started after the swap is refused.
	_, err := e.c.Upload(ctx, strings.NewReader("x"), "sub/f", files.WriteOptions{})
	wantCode(t, "write through the swapped symlink", err, rpc.PermissionDenied)
}
