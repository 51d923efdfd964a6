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
			if _, err := files.WriteArchive(ctx, &tarball, srcRoot, gz); err != nil {
				t.Fatal(err)
			}
			put, err := e.c.ArchivePut(ctx, &tarball, "dst/tree", gz)
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
			if _, err := e.c.ArchiveGet(ctx, "dst/tree", &back, gz); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			outRoot, err := os.OpenRoot(out)
			if err != nil {
				t.Fatal(err)
			}
			defer outRoot.Close()
			if _, err := files.ExtractArchive(ctx, &back, outRoot, gz, nil); err != nil {
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
	_, err := e.c.ArchiveGet(ctx, "nope", &bytes.Buffer{}, false)
	wantCode(t, "get missing", err, rpc.NotFound)
	_, err = e.c.ArchivePut(ctx, strings.NewReader("this is not a tar file, not at all, no........"), "d", false)
	if err == nil {
		t.Error("put of garbage succeeded")
	}
	_, err = e.c.ArchivePut(ctx, strings.NewReader("garbage"), "d", true)
	if err == nil {
		t.Error("put of garbage gzip succeeded")
	}
	// An entry climbing out with ".." is refused.
	var tarball bytes.Buffer
	outside := t.TempDir()
	evil := makeEvilTar(t, &tarball)
	_, err = e.c.ArchivePut(ctx, &tarball, "d", false)
	wantCode(t, "put "+evil, err, rpc.PermissionDenied)
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("extraction escaped: %v", entries)
	}
}

func makeEvilTar(t *testing.T, buf *bytes.Buffer) string {
	t.Helper()
	tw := tar.NewWriter(buf)
	name := "../../escaped"
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("x"))
	tw.Close()
	return name
}
