package files_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// entry is what a tree round trip must keep.
type entry struct {
	Path    string
	Mode    fs.FileMode
	Content string
	Link    string
	MTime   time.Time
}

func snapshot(t *testing.T, dir string) []entry {
	t.Helper()
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := entry{Path: rel, Mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			e.Content = string(b)
			e.MTime = fi.ModTime().UTC()
		default:
			e.MTime = fi.ModTime().UTC()
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func makeTree(t *testing.T, dir string) {
	t.Helper()
	mt := time.Date(2021, 5, 6, 7, 8, 9, 123456789, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	must(os.Mkdir(filepath.Join(dir, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "a/run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a/b/private"), []byte("secret"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("z"), 300<<10), 0o644))
	must(os.Symlink("a/run.sh", filepath.Join(dir, "link")))
	must(os.Symlink("/nowhere/at/all", filepath.Join(dir, "dangling")))
	for _, p := range []string{"a/run.sh", "a/b/private", "big", "a/b", "a", "empty"} {
		must(os.Chtimes(filepath.Join(dir, p), mt, mt))
	}
	must(os.Chmod(filepath.Join(dir, "a/b"), 0o750))
}

// TestArchiveRoundTrip sends a tree with modes, symlinks and an empty
// directory to the guest and back, plain and gzipped.
func TestArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "tar", true: "tar.gz"}[gz], func(t *testing.T) {
			e := newEnv(t, files.Options{})
			src := t.TempDir()
			makeTree(t, src)
			srcRoot, err := os.OpenRoot(src)
			if err != nil {
				t.Fatal(err)
			}
			defer srcRoot.Close()
			var tarball bytes.Buffer
			if _, err := files.WriteArchive(ctx, &tarball, srcRoot, files.ArchiveOptions{Gzip: gz}); err != nil {
				t.Fatal(err)
			}
			put, err := e.c.ArchivePut(ctx, &tarball, "dst/tree", files.ArchiveOptions{Gzip: gz})
			if err != nil {
				t.Fatal(err)
			}
			if put.Entries != 8 {
				t.Errorf("put %d entries, want 8", put.Entries)
			}
			if diff := cmp.Diff(snapshot(t, src), snapshot(t, filepath.Join(e.root, "dst/tree"))); diff != "" {
				t.Errorf("guest tree (-want +got):\n%s", diff)
			}
			var back bytes.Buffer
			if _, err := e.c.ArchiveGet(ctx, "dst/tree", &back, files.ArchiveOptions{Gzip: gz}); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			outRoot, err := os.OpenRoot(out)
			if err != nil {
				t.Fatal(err)
			}
			defer outRoot.Close()
			if _, err := files.ExtractArchive(ctx, &back, outRoot, files.ExtractOptions{Gzip: gz}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(snapshot(t, src), snapshot(t, out)); diff != "" {
				t.Errorf("round-tripped tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, files.Options{})
	_, err := e.c.ArchiveGet(ctx, "nope", &bytes.Buffer{}, files.ArchiveOptions{})
	wantCode(t, "get missing", err, rpc.NotFound)
	_, err = e.c.ArchivePut(ctx, strings.NewReader("this is not a tar file, not at all, no........"), "d", files.ArchiveOptions{})
	if err == nil {
		t.Error("put of garbage succeeded")
	}
	_, err = e.c.ArchivePut(ctx, strings.NewReader("garbage"), "d", files.ArchiveOptions{Gzip: true})
	if err == nil {
		t.Error("put of garbage gzip succeeded")
	}
}

// TestArchiveHostileEntries extracts entries that aim at a real sibling
// of the root (reachable by ".." from the target directory, through a
// symlink or a hard link): each is refused and the sibling stays as it
// was.
func TestArchiveHostileEntries(t *testing.T) {
	reg := func(name string) *tar.Header {
		return &tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}
	}
	tests := []struct {
		name    string
		entries []*tar.Header
	}{
		{"dot-dot", []*tar.Header{reg("../../outside/escaped")}},
		{"dot-dot inside a name", []*tar.Header{reg("a/../../../outside/escaped")}},
		{"absolute", []*tar.Header{reg("/outside/escaped")}},
		{"through a symlink entry", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../../outside"}, reg("l/escaped")}},
		{"through an absolute symlink entry", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"}, reg("l/escaped")}},
		{"hard link out", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../outside/secret"}}},
		{"over a symlink out", []*tar.Header{{Name: "s", Typeflag: tar.TypeSymlink, Linkname: "../../outside/secret"}, reg("s")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, files.Options{Root: root})
			var tarball bytes.Buffer
			tw := tar.NewWriter(&tarball)
			for _, h := range tt.entries {
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			_, err := e.c.ArchivePut(context.Background(), &tarball, "d", files.ArchiveOptions{})
			if tt.name != "over a symlink out" {
				wantCode(t, "put", err, rpc.PermissionDenied)
			}
			entries, _ := os.ReadDir(outside)
			b, _ := os.ReadFile(filepath.Join(outside, "secret"))
			if len(entries) != 1 || string(b) != "secret" {
				t.Errorf("extraction reached the sibling of the root: %v, secret %q", entries, b)
			}
			if top, _ := os.ReadDir(base); len(top) != 2 {
				t.Errorf("extraction wrote beside the root: %v", top)
			}
		})
	}
}
