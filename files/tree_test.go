package files

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// treeCase is a tree under test, made by its own constructor.
type treeCase struct {
	name string
	open func(t *testing.T, root string) tree
}

// treeCases are the resolvers, each called directly and checked for its
// type: where the kernel has openat2 the default must be the openat2
// tree, never a silent fallback.
func treeCases() []treeCase {
	return []treeCase{
		{"openat2", func(t *testing.T, root string) tree {
			tr, err := newTree(root)
			if err != nil {
				t.Fatal(err)
			}
			if !isBeneathTree(tr) {
				t.Fatalf("newTree gave %T, want *beneathTree: openat2 is missing or forbidden here", tr)
			}
			return tr
		}},
		{"os.Root", func(t *testing.T, root string) tree {
			tr, err := openRootTree(root)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		}},
	}
}

// escapeRoot is base/root beside base/outside/secret, with inside the
// root: out -> base/outside (absolute), rel -> ../outside, chain -> out,
// d/e (a directory), dirlink -> d/e, and f, a file.
func escapeRoot(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, err := range []error{
		os.MkdirAll(filepath.Join(root, "d", "e"), 0o755),
		os.Mkdir(outside, 0o755),
		os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600),
		os.WriteFile(filepath.Join(root, "f"), []byte("f"), 0o644),
		os.Symlink(outside, filepath.Join(root, "out")),
		os.Symlink("../outside", filepath.Join(root, "rel")),
		os.Symlink("out", filepath.Join(root, "chain")),
		os.Symlink("d/e", filepath.Join(root, "dirlink")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

// outsideState is what must not change beside the root.
func outsideState(t *testing.T, outside string) string {
	t.Helper()
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(outside, "secret"))
	if err != nil {
		return "secret missing: " + err.Error()
	}
	b, _ := os.ReadFile(filepath.Join(outside, "secret"))
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().String() + " " + string(b) + " " + fi.ModTime().String() +
		" " + itoa(int(st.Uid)) + ":" + itoa(int(st.Gid)) + " entries " + itoa(len(entries))
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// escapeNames are names whose resolution leaves the root, none refusable
// as a string alone: symlinks in the path (absolute, relative, a
// chain), ".." after a symlinked directory, plain "..".
func escapeNames() []string {
	return []string{"out/secret", "rel/secret", "chain/secret", "dirlink/../../../outside/secret", "../outside/secret"}
}

// treeOps are every operation of a tree, each given an escaping name
// where the operation resolves it.
func treeOps() []struct {
	name string
	do   func(tr tree, p string) error
} {
	now := time.Now()
	closeErr := func(c interface{ Close() error }, err error) error {
		if err == nil {
			c.Close()
		}
		return err
	}
	return []struct {
		name string
		do   func(tr tree, p string) error
	}{
		{"OpenFile read", func(tr tree, p string) error { f, err := tr.OpenFile(p, os.O_RDONLY, 0); return closeErr(f, err) }},
		{"OpenFile write", func(tr tree, p string) error {
			f, err := tr.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
			return closeErr(f, err)
		}},
		{"OpenFile create", func(tr tree, p string) error {
			f, err := tr.OpenFile(p+".new", os.O_WRONLY|os.O_CREATE, 0o644)
			return closeErr(f, err)
		}},
		{"Stat", func(tr tree, p string) error { _, err := tr.Stat(p); return err }},
		{"Lstat", func(tr tree, p string) error { _, err := tr.Lstat(p); return err }},
		{"Mkdir", func(tr tree, p string) error { return tr.Mkdir(p+".d", 0o755) }},
		{"MkdirAll", func(tr tree, p string) error { return tr.MkdirAll(p+".d/x", 0o755) }},
		{"Remove", func(tr tree, p string) error { return tr.Remove(p) }},
		{"RemoveAll", func(tr tree, p string) error { return tr.RemoveAll(p) }},
		{"Rename from", func(tr tree, p string) error { return tr.Rename(p, "stolen") }},
		{"Rename to", func(tr tree, p string) error { return tr.Rename("f", p) }},
		{"Link from", func(tr tree, p string) error { return tr.Link(p, "linked") }},
		{"Link to", func(tr tree, p string) error { return tr.Link("f", p+".link") }},
		{"Chmod", func(tr tree, p string) error { return tr.Chmod(p, 0o777) }},
		{"Chown", func(tr tree, p string) error { return tr.Chown(p, 4242, 4242) }},
		{"Lchown", func(tr tree, p string) error { return tr.Lchown(p, 4242, 4242) }},
		{"Chtimes", func(tr tree, p string) error { return tr.Chtimes(p, now, now) }},
		{"Readlink", func(tr tree, p string) error { _, err := tr.Readlink(p); return err }},
		{"Symlink", func(tr tree, p string) error { return tr.Symlink("f", p+".sym") }},
		{"OpenRoot", func(tr tree, p string) error { r, err := tr.OpenRoot(filepath.Dir(p)); return closeErr(r, err) }},
		{"OpenDir", func(tr tree, p string) error { d, err := tr.OpenDir(filepath.Dir(p)); return closeErr(d, err) }},
		{"OpenMeta", func(tr tree, p string) error { m, err := tr.OpenMeta(p, true); return closeErr(m, err) }},
		{"OpenMeta nofollow", func(tr tree, p string) error { m, err := tr.OpenMeta(p, false); return closeErr(m, err) }},
	}
}

// TestTreeEscapes gives every operation of each tree every escaping
// name: each is refused as an escape and nothing beside the root
// changes.
func TestTreeEscapes(t *testing.T) {
	for _, tc := range treeCases() {
		for _, op := range treeOps() {
			for _, p := range escapeNames() {
				t.Run(tc.name+"/"+op.name+"/"+p, func(t *testing.T) {
					root, outside := escapeRoot(t)
					tr := tc.open(t, root)
					defer tr.Close()
					before := outsideState(t, outside)
					err := op.do(tr, p)
					if !isEscape(err) {
						t.Errorf("error %v, want an escape", err)
					}
					if after := outsideState(t, outside); after != before {
						t.Errorf("beside the root: %s -> %s", before, after)
					}
				})
			}
		}
	}
}

// TestTreeCloseReleasesDescriptors opens and closes each tree many
// times: the descriptor count comes back to where it was.
func TestTreeCloseReleasesDescriptors(t *testing.T) {
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatalf("counting descriptors needs /proc: %v", err)
		}
		return len(entries)
	}
	root := t.TempDir()
	for _, tc := range treeCases() {
		before := count()
		for range 100 {
			tc.open(t, root).Close()
		}
		if after := count(); after != before {
			t.Errorf("%s: %d descriptors before 100 opens and closes, %d after", tc.name, before, after)
		}
	}
}
