package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// guestTree makes the files the file-verb tests work on.
func guestTree(t *testing.T) string {
	t.Helper()
	g := t.TempDir()
	must(t, os.WriteFile(filepath.Join(g, "a.txt"), []byte("hello"), 0o640))
	must(t, os.Chmod(filepath.Join(g, "a.txt"), 0o640))
	must(t, os.WriteFile(filepath.Join(g, "c.txt"), []byte("c"), 0o644))
	must(t, os.MkdirAll(filepath.Join(g, "d", "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(g, "d", "sub", "f"), []byte("x"), 0o644))
	must(t, os.Symlink("a.txt", filepath.Join(g, "link")))
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(g, "c.txt"), old, old))
	return g
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fileIs checks the mode (type and permission bits) of a host path.
func fileIs(p string, want fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, _ string) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v; want mode %v", p, err, want)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v; want %v", p, fi.Mode(), want)
		}
	}
}

// jsonEntries decodes ls/stat --json output, ignoring mtime.
func jsonEntries(t *testing.T, out string) []entry {
	t.Helper()
	var es []entry
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var e entry
		must(t, dec.Decode(&e))
		e.MTime = time.Time{}
		es = append(es, e)
	}
	return es
}

func TestFileVerbs(t *testing.T) {
	target := startAgent(t)
	g := guestTree(t)
	at := func(p string) string { return filepath.Join(g, p) }
	runVerbCases(t, target, []verbCase{
		{name: "ls", args: []string{"ls", g}, lines: []string{"a.txt", "c.txt", "d", "link"}},
		{name: "ls -R", args: []string{"ls", "-R", g}, lines: []string{"a.txt", "c.txt", "d", "link", "d/sub", "d/sub/f"}},
		{name: "ls -l", args: []string{"ls", "-l", g}, stdout: "link -> a.txt\n", check: func(t *testing.T, out string) {
			if !strings.Contains(out, "-rw-r----- ") || !strings.Contains(out, " a.txt\n") {
				t.Errorf("ls -l: %q lacks a.txt's mode", out)
			}
		}},
		{name: "ls a file", args: []string{"ls", at("a.txt")}, exact: true, stdout: at("a.txt") + "\n"},
		{name: "ls --json", args: []string{"ls", "--json", at("d")}, check: func(t *testing.T, out string) {
			want := []entry{{Path: at("d/sub"), Name: "sub", Type: "dir", Mode: "drwxr-xr-x", Perm: 0o755, Size: -1}}
			if diff := cmp.Diff(want, jsonEntries(t, out), cmpopts.IgnoreFields(entry{}, "Size")); diff != "" {
				t.Errorf("ls --json (-want +got):\n%s", diff)
			}
		}},
		{name: "ls missing", args: []string{"ls", at("nope")}, code: exitNotFound, stderr: at("nope")},
		{name: "ls bad flag", args: []string{"ls", "-x", g}, code: exitUsage, stderr: "usage: guestrpc ls"},
		{name: "stat", args: []string{"stat", at("a.txt")}, stdout: "type: file\nmode: -rw-r----- (0640)\nsize: 5\n"},
		{name: "stat --json symlink", args: []string{"stat", "--json", at("link")}, check: func(t *testing.T, out string) {
			want := []entry{{Path: at("link"), Name: "link", Type: "symlink", Mode: "lrwxrwxrwx", Perm: 0o777, Size: 5, Link: "a.txt"}}
			if diff := cmp.Diff(want, jsonEntries(t, out)); diff != "" {
				t.Errorf("stat --json (-want +got):\n%s", diff)
			}
		}},
		{name: "stat -L", args: []string{"stat", "-L", "--json", at("link")}, stdout: `"type":"file"`},
		{name: "stat one missing", args: []string{"stat", at("a.txt"), at("nope")}, code: exitNotFound, stdout: "size: 5", stderr: "nope"},
		{name: "mkdir", args: []string{"mkdir", at("new")}, check: fileIs(at("new"), fs.ModeDir|0o755)},
		{name: "mkdir existing", args: []string{"mkdir", at("new")}, code: exitExists, stderr: at("new")},
		{name: "mkdir -p", args: []string{"mkdir", "-p", at("new/x/y"), at("new")}, check: fileIs(at("new/x/y"), fs.ModeDir|0o755)},
		{name: "mkdir -m", args: []string{"mkdir", "-m", "0700", at("private")}, check: fileIs(at("private"), fs.ModeDir|0o700)},
		{name: "mkdir bad mode", args: []string{"mkdir", "-m", "9", at("bad")}, code: exitUsage, stderr: `mode "9"`},
		{name: "mv", args: []string{"mv", at("a.txt"), at("b.txt")}, check: fileIs(at("b.txt"), 0o640)},
		{name: "mv -n onto a file", args: []string{"mv", "-n", at("b.txt"), at("c.txt")}, code: exitExists},
		{name: "mv -n onto nothing", args: []string{"mv", "-n", at("c.txt"), at("c2.txt")}, check: fileIs(at("c2.txt"), 0o644)},
		{name: "mv back", args: []string{"mv", at("c2.txt"), at("c.txt")}, check: fileIs(at("c.txt"), 0o644)},
		{name: "mv replaces", args: []string{"mv", at("c.txt"), at("b.txt")}, check: fileIs(at("b.txt"), 0o644)},
		{name: "mv missing", args: []string{"mv", at("nope"), at("x")}, code: exitNotFound},
		{name: "mv one arg", args: []string{"mv", at("b.txt")}, code: exitUsage},
		{name: "chmod", args: []string{"chmod", "0600", at("b.txt")}, check: fileIs(at("b.txt"), 0o600)},
		{name: "chmod setuid", args: []string{"chmod", "4755", at("b.txt")}, check: fileIs(at("b.txt"), fs.ModeSetuid|0o755)},
		{name: "chmod symbolic", args: []string{"chmod", "u+x", at("b.txt")}, code: exitUsage, stderr: "octal"},
		{name: "chmod missing", args: []string{"chmod", "0600", at("nope")}, code: exitNotFound},
		{name: "chown", args: []string{"chown", "1234:5678", at("b.txt")}, check: ownerIs(at("b.txt"), 1234, 5678)},
		{name: "chown group only", args: []string{"chown", ":42", at("b.txt")}, check: ownerIs(at("b.txt"), 1234, 42)},
		{name: "chown name", args: []string{"chown", "root", at("b.txt")}, code: exitUsage, stderr: "numeric"},
		// link -> a.txt dangles since mv moved a.txt.
		{name: "chown a dangling symlink", args: []string{"chown", "77:88", at("link")}, code: exitNotFound},
		{name: "chown -h a dangling symlink", args: []string{"chown", "-h", "77:88", at("link")}, check: linkOwnerIs(at("link"), 77, 88)},
		{name: "touch creates", args: []string{"touch", at("t1"), at("t2")}, check: fileIs(at("t2"), 0o644)},
		{name: "touch -c", args: []string{"touch", "-c", at("t3")}, check: func(t *testing.T, _ string) {
			if _, err := os.Lstat(at("t3")); !os.IsNotExist(err) {
				t.Errorf("touch -c made %s: %v", at("t3"), err)
			}
		}},
		{name: "touch existing", args: []string{"touch", at("d/sub/f")}, check: func(t *testing.T, _ string) {
			if fi, err := os.Stat(at("d/sub/f")); err != nil || fi.ModTime().Year() == 2000 || fi.Size() != 1 {
				t.Errorf("touch left %v, %v", fi, err)
			}
		}},
		{name: "mktemp", args: []string{"mktemp", "-p", g, "-s", ".log", "pre"}, stdout: at("pre"), check: isTemp(".log", 0)},
		{name: "mktemp -d", args: []string{"mktemp", "-d", "-p", g}, stdout: g, check: isTemp("", fs.ModeDir)},
		{name: "mktemp star in suffix", args: []string{"mktemp", "-p", g, "-s", "*.log"}, code: exitUsage, stderr: "suffix"},
		{name: "mktemp slash", args: []string{"mktemp", "-p", g, "a/b"}, code: exitFailed, stderr: "separator"},
		{name: "rm non-empty dir", args: []string{"rm", at("d")}, code: exitFailed, stderr: at("d")},
		{name: "rm -r", args: []string{"rm", "-r", at("d"), at("link")}, check: gone(at("d"), at("link"))},
		{name: "rm missing", args: []string{"rm", at("nope")}, code: exitNotFound, stderr: "nope"},
		{name: "rm -r missing", args: []string{"rm", "-r", at("nope")}, code: exitNotFound, stderr: "nope"},
		{name: "rm -f missing", args: []string{"rm", "-f", at("nope"), at("t1")}, check: gone(at("t1"))},
		{name: "help ls", args: []string{"help", "ls"}, stdout: "usage: guestrpc ls [-l] [-R]"},
	})
}

func ownerIs(p string, uid, gid int) func(*testing.T, string) { return ownerBy(os.Stat, p, uid, gid) }

// linkOwnerIs checks the owner of a symlink itself.
func linkOwnerIs(p string, uid, gid int) func(*testing.T, string) {
	return ownerBy(os.Lstat, p, uid, gid)
}

func ownerBy(stat func(string) (fs.FileInfo, error), p string, uid, gid int) func(*testing.T, string) {
	return func(t *testing.T, _ string) {
		t.Helper()
		fi, err := stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fileOwner(fi); got != [2]int{uid, gid} {
			t.Errorf("%s: owner %v; want %d:%d", p, got, uid, gid)
		}
	}
}

func isTemp(suffix string, typ fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		p := strings.TrimSuffix(out, "\n")
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Type() != typ || !strings.HasSuffix(p, suffix) {
			t.Errorf("mktemp printed %q: %v, %v; want a %v ending in %q", out, fi, err, typ, suffix)
		}
	}
}

func gone(paths ...string) func(*testing.T, string) {
	return func(t *testing.T, _ string) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Errorf("%s still there: %v", p, err)
			}
		}
	}
}

func TestLsMode(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o644:                                     "-rw-r--r--",
		fs.ModeDir | 0o755:                        "drwxr-xr-x",
		fs.ModeDir | fs.ModeSticky | 0o777:        "drwxrwxrwt",
		fs.ModeDir | fs.ModeSticky | 0o770:        "drwxrwx--T",
		fs.ModeSymlink | 0o777:                    "lrwxrwxrwx",
		fs.ModeSetuid | 0o755:                     "-rwsr-xr-x",
		fs.ModeSetuid | fs.ModeSetgid | 0o604:     "-rwS--Sr--",
		fs.ModeDevice | fs.ModeCharDevice | 0o666: "crw-rw-rw-",
		fs.ModeDevice | 0o660:                     "brw-rw----",
		fs.ModeNamedPipe | 0o600:                  "prw-------",
		fs.ModeSocket | 0o777:                     "srwxrwxrwx",
	} {
		if got := lsMode(m); got != want {
			t.Errorf("lsMode(%v) = %q; want %q", m, got, want)
		}
	}
}
