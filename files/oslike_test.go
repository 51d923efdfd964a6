package files_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// seedTree is the tree every os-like case starts from.
func seedTree(t *testing.T, dir string) {
	t.Helper()
	for _, err := range []error{
		os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644),
		os.Mkdir(filepath.Join(dir, "dir"), 0o755),
		os.WriteFile(filepath.Join(dir, "dir/b.txt"), []byte("world"), 0o644),
		os.Mkdir(filepath.Join(dir, "empty"), 0o755),
		os.Symlink("dir", filepath.Join(dir, "link")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listing is a tree as names, kinds and contents: what an os-like
// operation must leave as the os function leaves it.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case d.IsDir():
			out = append(out, rel+"/ "+fi.Mode().Perm().String())
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+fi.Mode().Perm().String()+" "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestClientLikeOS runs each of the Client's os-like methods against a
// Service and the os function it mirrors against a copy of the same
// tree: both must succeed or fail together and leave the same tree.
// The agent's code is checked too, since a caller's errors.Is and a
// script's exit status rest on it.
func TestClientLikeOS(t *testing.T) {
	ctx := context.Background()
	type call struct {
		client func(c *files.Client) error
		os     func(dir string) error // nil: no error, tree unchanged
	}
	in := func(dir, name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name string
		call
		code rpc.Code
	}{
		{"Mkdir", call{
			func(c *files.Client) error { return c.Mkdir(ctx, "new", 0o750) },
			func(d string) error { return os.Mkdir(in(d, "new"), 0o750) }}, rpc.OK},
		{"Mkdir missing parent", call{
			func(c *files.Client) error { return c.Mkdir(ctx, "x/y", 0o750) },
			func(d string) error { return os.Mkdir(in(d, "x/y"), 0o750) }}, rpc.NotFound},
		{"MkdirAll missing parent", call{
			func(c *files.Client) error { return c.MkdirAll(ctx, "x/y", 0o750) },
			func(d string) error { return os.MkdirAll(in(d, "x/y"), 0o750) }}, rpc.OK},
		{"Mkdir existing", call{
			func(c *files.Client) error { return c.Mkdir(ctx, "dir", 0o750) },
			func(d string) error { return os.Mkdir(in(d, "dir"), 0o750) }}, rpc.AlreadyExists},
		{"MkdirAll existing", call{
			func(c *files.Client) error { return c.MkdirAll(ctx, "dir", 0o750) },
			func(d string) error { return os.MkdirAll(in(d, "dir"), 0o750) }}, rpc.OK},
		{"MkdirAll under a file", call{
			func(c *files.Client) error { return c.MkdirAll(ctx, "a.txt/y", 0o750) },
			func(d string) error { return os.MkdirAll(in(d, "a.txt/y"), 0o750) }}, rpc.FailedPrecondition},
		{"Remove file", call{
			func(c *files.Client) error { return c.Remove(ctx, "a.txt") },
			func(d string) error { return os.Remove(in(d, "a.txt")) }}, rpc.OK},
		{"Remove empty dir", call{
			func(c *files.Client) error { return c.Remove(ctx, "empty") },
			func(d string) error { return os.Remove(in(d, "empty")) }}, rpc.OK},
		{"Remove non-empty dir", call{
			func(c *files.Client) error { return c.Remove(ctx, "dir") },
			func(d string) error { return os.Remove(in(d, "dir")) }}, rpc.FailedPrecondition},
		{"RemoveAll non-empty dir", call{
			func(c *files.Client) error { return c.RemoveAll(ctx, "dir") },
			func(d string) error { return os.RemoveAll(in(d, "dir")) }}, rpc.OK},
		{"Remove missing", call{
			func(c *files.Client) error { return c.Remove(ctx, "nope") },
			func(d string) error { return os.Remove(in(d, "nope")) }}, rpc.NotFound},
		{"RemoveAll missing", call{
			func(c *files.Client) error { return c.RemoveAll(ctx, "nope/deeper") },
			func(d string) error { return os.RemoveAll(in(d, "nope/deeper")) }}, rpc.OK},
		{"RemoveAll symlink to dir", call{
			func(c *files.Client) error { return c.RemoveAll(ctx, "link") },
			func(d string) error { return os.RemoveAll(in(d, "link")) }}, rpc.OK},
		{"Rename", call{
			func(c *files.Client) error { return c.Rename(ctx, "a.txt", "dir/c.txt") },
			func(d string) error { return os.Rename(in(d, "a.txt"), in(d, "dir/c.txt")) }}, rpc.OK},
		{"Rename replaces a file", call{
			func(c *files.Client) error { return c.Rename(ctx, "a.txt", "dir/b.txt") },
			func(d string) error { return os.Rename(in(d, "a.txt"), in(d, "dir/b.txt")) }}, rpc.OK},
		{"Rename onto a non-empty dir", call{
			func(c *files.Client) error { return c.Rename(ctx, "empty", "dir") },
			func(d string) error { return os.Rename(in(d, "empty"), in(d, "dir")) }}, rpc.FailedPrecondition},
		{"Rename missing", call{
			func(c *files.Client) error { return c.Rename(ctx, "nope", "x") },
			func(d string) error { return os.Rename(in(d, "nope"), in(d, "x")) }}, rpc.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Options{})
			seedTree(t, e.root)
			local := t.TempDir()
			seedTree(t, local)

			err := tt.client(e.c)
			oserr := tt.os(local)
			if got := rpc.CodeOf(err); got != tt.code {
				t.Errorf("code %v (%v), want %v", got, err, tt.code)
			}
			if (err == nil) != (oserr == nil) {
				t.Errorf("client error %v, os error %v: want both or neither", err, oserr)
			}
			if diff := cmp.Diff(listing(t, local), listing(t, e.root)); diff != "" {
				t.Errorf("tree after the call (-os +client):\n%s", diff)
			}
		})
	}
}

// TestClientRemoveAllRoot: RemoveAll never removes the agent's root,
// which os.RemoveAll would.
func TestClientRemoveAllRoot(t *testing.T) {
	e := newEnv(t, files.Options{})
	seedTree(t, e.root)
	for _, p := range []string{".", "/", e.root} {
		wantCode(t, "RemoveAll "+p, e.c.RemoveAll(context.Background(), p), rpc.PermissionDenied)
	}
	if _, err := os.Stat(filepath.Join(e.root, "a.txt")); err != nil {
		t.Fatal(err)
	}
}

// TestClientTempPatterns makes temporary files and directories with
// os-style patterns and compares each name's shape with what
// os.CreateTemp and os.MkdirTemp make from the same pattern.
func TestClientTempPatterns(t *testing.T) {
	ctx := context.Background()
	type shape struct {
		Dir    string // where the new path is
		Prefix bool   // the name starts with the pattern's prefix
		Suffix bool   // and ends with its suffix
		Random bool   // and has more between them
		Mode   fs.FileMode
	}
	tests := []struct {
		name    string
		dir     string // "" is the default: the root here
		pattern string
		mkdir   bool
		code    rpc.Code
		notOS   bool // os on this platform accepts the pattern
	}{
		{name: "no star", dir: "dir", pattern: "pre-"},
		{name: "star", dir: "dir", pattern: "pre-*.suf"},
		{name: "star first", pattern: "*.log"},
		{name: "last star wins", pattern: "a*b*c"},
		{name: "empty", pattern: ""},
		{name: "dir star", dir: "dir", pattern: "work-*-tmp", mkdir: true},
		{name: "dir no star", pattern: "work", mkdir: true},
		{name: "separator", pattern: "a/b*", code: rpc.InvalidArgument},
		{name: "separator in suffix", pattern: "a*/b", code: rpc.InvalidArgument},
		{name: "dir separator", pattern: "x/*", mkdir: true, code: rpc.InvalidArgument},
		{name: "backslash", pattern: `a\b*`, code: rpc.InvalidArgument, notOS: true},
		{name: "missing dir", dir: "nope", pattern: "x*", code: rpc.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Options{})
			seedTree(t, e.root)
			local := t.TempDir()
			seedTree(t, local)
			create := map[bool]func(context.Context, string, string) (string, error){false: e.c.CreateTemp, true: e.c.MkdirTemp}[tt.mkdir]
			osCreate := func(dir, pattern string) (string, error) {
				if tt.mkdir {
					return os.MkdirTemp(dir, pattern)
				}
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return "", err
				}
				return f.Name(), f.Close()
			}
			got, err := create(ctx, tt.dir, tt.pattern)
			wantCode(t, "client", err, tt.code)
			want, oserr := osCreate(filepath.Join(local, tt.dir), tt.pattern)
			if !tt.notOS && (err == nil) != (oserr == nil) {
				t.Fatalf("client error %v, os error %v: want both or neither", err, oserr)
			}
			if err != nil {
				return
			}
			prefix, suffix := tt.pattern, ""
			if i := strings.LastIndex(tt.pattern, "*"); i >= 0 {
				prefix, suffix = tt.pattern[:i], tt.pattern[i+1:]
			}
			shapeOf := func(root, p string) shape {
				fi, err := os.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				rel, _ := filepath.Rel(root, filepath.Dir(p))
				name := filepath.Base(p)
				return shape{Dir: rel, Prefix: strings.HasPrefix(name, prefix), Suffix: strings.HasSuffix(name, suffix),
					Random: len(name) > len(prefix)+len(suffix), Mode: fi.Mode()}
			}
			if diff := cmp.Diff(shapeOf(local, want), shapeOf(e.root, got)); diff != "" {
				t.Errorf("%q made %q (-os +client):\n%s", tt.pattern, got, diff)
			}
		})
	}
}
