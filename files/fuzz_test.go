package files_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// fuzzRoot is a root with a sibling directory "outside" holding
// "secret", and inside the root a symlink "out" to outside, a relative
// one "rel" to it, a hard link "hl" to the secret and a file "f".
type fuzzRoot struct{ base, root, outside, secret string }

func newFuzzRoot(t *testing.T) fuzzRoot {
	t.Helper()
	base := t.TempDir()
	r := fuzzRoot{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	r.secret = filepath.Join(r.outside, "secret")
	for _, err := range []error{
		os.MkdirAll(filepath.Join(r.root, "d", "e"), 0o755),
		os.Mkdir(r.outside, 0o755),
		os.WriteFile(r.secret, []byte("secret"), 0o600),
		os.WriteFile(filepath.Join(r.root, "f"), []byte("f"), 0o644),
		os.Symlink(r.outside, filepath.Join(r.root, "out")),
		os.Symlink("../outside", filepath.Join(r.root, "rel")),
		os.Symlink("../../out", filepath.Join(r.root, "d", "up")),
		os.Link(r.secret, filepath.Join(r.root, "hl")),
		os.Link(r.secret, filepath.Join(r.root, "d", "hl2")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// intact fails t if anything outside the root changed.
func (r fuzzRoot) intact(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(r.outside)
	if err != nil || len(entries) != 1 {
		t.Fatalf("outside directory holds %v (%v)", entries, err)
	}
	fi, err := os.Stat(r.secret)
	b, _ := os.ReadFile(r.secret)
	if err != nil || string(b) != "secret" || fi.Mode() != 0o600 || !ownedByUs(fi) {
		t.Fatalf("outside file changed: %q %v %v", b, fi.Mode(), err)
	}
	top, _ := os.ReadDir(r.base)
	if len(top) != 2 {
		t.Fatalf("beside the root: %v", top)
	}
}

func ownedByUs(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || int(st.Uid) == os.Getuid() && int(st.Gid) == os.Getgid()
}

// isSecret reports whether f is the secret outside the root.
func (r fuzzRoot) isSecret(f *os.File) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(r.secret)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// FuzzPolicyResolve gives the policy arbitrary names with every
// operation: none may reach the directory beside the root (reading the
// secret through the hard link is allowed; changing it is not), and
// every refusal is an rpc error.
func FuzzPolicyResolve(f *testing.F) {
	for _, s := range policySeeds() {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, name string, which uint8) {
		r := newFuzzRoot(t)
		for _, ro := range []bool{false, true} {
			p, err := files.NewPolicy(files.Options{Root: r.root, ReadOnly: ro})
			if err != nil {
				t.Fatal(err)
			}
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_APPEND, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
				fh, err := p.Open("fuzz", name, flag, 0o644)
				if err == nil {
					if flag != os.O_RDONLY && r.isSecret(fh) {
						t.Errorf("%q opened the secret outside for writing (flag %#x)", name, flag)
					}
					fh.Close()
				}
				checkRefusal(t, name, err)
			}
			_, err = p.Stat("fuzz", name)
			checkRefusal(t, name, err)
			_, err = p.Lstat("fuzz", name)
			checkRefusal(t, name, err)
			checkRefusal(t, name, p.Chmod("fuzz", name, fs.FileMode(which)&0o777|0o400))
			checkRefusal(t, name, p.Chown("fuzz", name, os.Getuid(), os.Getgid(), which&1 == 0))
			checkRefusal(t, name, p.Truncate("fuzz", name, int64(which)))
			if root, err := p.OpenRoot("fuzz", name); err == nil {
				root.Close()
			}
			p.Close()
			r.intact(t)
		}
	})
}

// policySeeds are names that try every way out of the root.
func policySeeds() []string {
	return []string{"f", "d/e", "../outside/secret", "out/secret", "rel/secret", "d/up/secret",
		"d/../../outside/secret", "hl", "/", ".", "d/./e/../..", "\x00", "out", "a/b/c/../../../../outside"}
}

func checkRefusal(t *testing.T, name string, err error) {
	t.Helper()
	var re *rpc.Error
	if err != nil && !errors.As(err, &re) {
		t.Errorf("%q: error %v is not an rpc error", name, err)
	}
	if errors.Is(err, files.ErrEscapes) && rpc.CodeOf(err) != rpc.PermissionDenied {
		t.Errorf("%q: escape refused with %v", name, rpc.CodeOf(err))
	}
}

// FuzzExtractArchive extracts arbitrary tar streams into a directory of
// the root: nothing may land beside it, and no extracted file keeps a
// setuid or setgid bit.
func FuzzExtractArchive(f *testing.F) {
	for _, seed := range archiveSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newFuzzRoot(t)
		root, err := os.OpenRoot(filepath.Join(r.root, "d"))
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		_, _ = files.ExtractArchive(context.Background(), bytes.NewReader(data), root, files.ExtractOptions{})
		r.intact(t)
		filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				t.Errorf("%s extracted with mode %v", p, fi.Mode())
			}
			return nil
		})
	})
}

// archiveSeeds are tar streams with hostile and ordinary entries.
func archiveSeeds(tb testing.TB) [][]byte {
	build := func(hdrs ...*tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				tb.Fatal(err)
			}
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
		tw.Close()
		// Without the two zero blocks that end a tar: the reader stops at
		// the end of the input just the same, and a short input keeps the
		// fuzzer's minimisation quick.
		return bytes.TrimSuffix(b.Bytes(), make([]byte, 1024))
	}
	reg := func(name string, mode int64) *tar.Header {
		return &tar.Header{Name: name, Mode: mode, Typeflag: tar.TypeReg, Size: 3}
	}
	return [][]byte{
		build(reg("a", 0o644), &tar.Header{Name: "dir/", Mode: 0o755, Typeflag: tar.TypeDir}, reg("dir/b", 0o600)),
		build(reg("../../../outside/x", 0o644)),
		build(reg("suid", 0o4755), reg("sgid", 0o2755)),
		build(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../../../outside"}, reg("l/x", 0o644)),
		build(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../outside/secret"}),
		build(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../hl"}),
		build(&tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "hl2", Uid: 65534}),
		build(&tar.Header{Name: "e/", Typeflag: tar.TypeDir, Mode: 0o777}, &tar.Header{Name: "e", Typeflag: tar.TypeSymlink, Linkname: "hl2"}),
		build(&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/"}, reg("up/tmp/x", 0o644)),
		build(reg("e", 0o644), &tar.Header{Name: "e", Typeflag: tar.TypeSymlink, Linkname: "../../outside/secret"}, reg("e", 0o644)),
		build(&tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o644}, &tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}),
	}
}
