package files_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestFIFOAndDevicesRefused reads, lists and appends to a FIFO that no
// one writes, 20 times each with a short deadline: every call is
// refused at once as not a regular file, and no goroutine stays stuck
// in open(2).
func TestFIFOAndDevicesRefused(t *testing.T) {
	e := newEnv(t, files.Options{})
	fifo := filepath.Join(e.root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // wake any opener left blocked, so that a failure ends
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	})
	if _, err := e.c.Stat(context.Background(), "fifo"); err != nil { // the connection's goroutines start
		t.Fatal(err)
	}
	base := goleak.IgnoreCurrent()
	calls := map[string]func(ctx context.Context) error{
		"read": func(ctx context.Context) error {
			_, err := e.c.Download(ctx, "fifo", io.Discard, files.ReadOptions{})
			return err
		},
		"append": func(ctx context.Context) error {
			_, err := e.c.Upload(ctx, strings.NewReader("x"), "fifo", files.WriteOptions{Flag: files.Append})
			return err
		},
		"list": func(ctx context.Context) error { _, err := e.c.List(ctx, "fifo"); return err },
	}
	for name, call := range calls {
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := call(ctx)
			cancel()
			wantCode(t, name+" of a FIFO", err, rpc.PermissionDenied)
			if !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("%s of a FIFO: %v, want the reason", name, err)
			}
		}
	}
	// Idle workers wait in select for the connection's next call; a
	// handler stuck in open(2) would show a system call on top.
	goleak.VerifyNone(t, base, goleak.IgnoreTopFunction("github.com/guestrpc/guestrpc/rpc.(*serverConn).worker"))
	if dev, err := files.NewPolicy(files.Options{Root: "/dev"}); err == nil {
		f, err := dev.Open("file.read", "null", os.O_RDONLY, 0)
		if f != nil {
			f.Close()
		}
		wantCode(t, "read of a character device", err, rpc.PermissionDenied)
		dev.Close()
	}
}

// hardLinked is a confined root holding "hl", a hard link to a file in
// a sibling directory of the root.
func hardLinked(t *testing.T) (e *env, outside string) {
	t.Helper()
	base := t.TempDir()
	root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(out, 0o755)
	outside = filepath.Join(out, "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(root, "hl")); err != nil {
		t.Fatal(err)
	}
	return newEnv(t, files.Options{Root: root}), outside
}

// TestHardLinkRule refuses in-place changes to a file with a second
// link (outside the root) and leaves that file as it was; replacing the
// link is allowed, since it never touches the other.
func TestHardLinkRule(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		do   func(c *files.Client) error
		code rpc.Code
	}{
		{"append", func(c *files.Client) error {
			_, err := c.Upload(ctx, strings.NewReader("more"), "hl", files.WriteOptions{Flag: files.Append})
			return err
		}, rpc.PermissionDenied},
		{"chmod", func(c *files.Client) error { return c.Chmod(ctx, "hl", 0o666) }, rpc.PermissionDenied},
		{"chown", func(c *files.Client) error { return c.Chown(ctx, "hl", 65534, 65534) }, rpc.PermissionDenied},
		{"chmod through a symlink", func(c *files.Client) error { return c.Chmod(ctx, "sl", 0o666) }, rpc.PermissionDenied},
		{"overwrite replaces the link", func(c *files.Client) error {
			_, err := c.Upload(ctx, strings.NewReader("new"), "hl", files.WriteOptions{})
			return err
		}, rpc.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, outside := hardLinked(t)
			os.Symlink("hl", filepath.Join(e.root, "sl"))
			err := tt.do(e.c)
			wantCode(t, tt.name, err, tt.code)
			if err != nil && !strings.Contains(err.Error(), "hard link") {
				t.Errorf("%s: %v, want the reason", tt.name, err)
			}
			fi, serr := os.Stat(outside)
			b, _ := os.ReadFile(outside)
			if serr != nil || string(b) != "secret" || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
				t.Errorf("the file outside the root changed: %q %v %v", b, fi.Mode(), serr)
			}
		})
	}
}

// TestArchiveClearsSetuid extracts setuid, setgid and sticky entries:
// setuid and setgid are cleared unless asked for, sticky stays.
func TestArchiveClearsSetuid(t *testing.T) {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, h := range []*tar.Header{
		{Name: "suid", Mode: 0o4755, Typeflag: tar.TypeReg, Size: 1},
		{Name: "sgid", Mode: 0o2755, Typeflag: tar.TypeReg, Size: 1},
		{Name: "sgiddir/", Mode: 0o2775, Typeflag: tar.TypeDir},
		{Name: "sticky/", Mode: 0o1777, Typeflag: tar.TypeDir},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	want := map[bool]map[string]fs.FileMode{
		false: {"suid": 0o755, "sgid": 0o755, "sgiddir": fs.ModeDir | 0o775, "sticky": fs.ModeDir | fs.ModeSticky | 0o777},
		true: {"suid": fs.ModeSetuid | 0o755, "sgid": fs.ModeSetgid | 0o755, "sgiddir": fs.ModeDir | fs.ModeSetgid | 0o775,
			"sticky": fs.ModeDir | fs.ModeSticky | 0o777},
	}
	for _, keep := range []bool{false, true} {
		e := newEnv(t, files.Options{})
		if _, err := e.c.ArchivePut(context.Background(), bytes.NewReader(tarball.Bytes()), "x", files.ArchiveOptions{KeepSetuid: keep}); err != nil {
			t.Fatal(err)
		}
		for name, mode := range want[keep] {
			fi, err := os.Lstat(filepath.Join(e.root, "x", name))
			if err != nil || fi.Mode() != mode {
				t.Errorf("keep setuid %v: %s has mode %v (%v), want %v", keep, name, fi.Mode(), err, mode)
			}
		}
	}
}
