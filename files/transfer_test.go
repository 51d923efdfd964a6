package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

func intp(i int) *int { return &i }

func TestWriteRead(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		existing string // "" = no file
		path     string
		data     string
		opts     files.WriteOptions
		code     rpc.Code
		want     string // content after the call
		wantMode fs.FileMode
	}{
		{name: "create", path: "f", data: "new", want: "new", wantMode: 0o644},
		{name: "overwrite", existing: "old", path: "f", data: "new", want: "new", wantMode: 0o640},
		{name: "overwrite with mode", existing: "old", path: "f", data: "new", opts: files.WriteOptions{Mode: 0o700}, want: "new", wantMode: 0o700},
		{name: "overwrite with checksum", existing: "old", path: "f", data: "new", opts: files.WriteOptions{Checksum: true}, want: "new", wantMode: 0o640},
		{name: "create-only new", path: "f", data: "new", opts: files.WriteOptions{Flag: files.CreateOnly}, want: "new", wantMode: 0o644},
		{name: "create-only exists", existing: "old", path: "f", data: "new", opts: files.WriteOptions{Flag: files.CreateOnly}, code: rpc.AlreadyExists, want: "old"},
		{name: "append", existing: "old", path: "f", data: "new", opts: files.WriteOptions{Flag: files.Append}, want: "oldnew", wantMode: 0o640},
		{name: "append new file", path: "f", data: "new", opts: files.WriteOptions{Flag: files.Append, Checksum: true}, want: "new", wantMode: 0o644},
		{name: "bad flag", path: "f", data: "new", opts: files.WriteOptions{Flag: "sideways"}, code: rpc.InvalidArgument},
		{name: "missing parent", path: "d/e/f", data: "new", code: rpc.NotFound},
		{name: "parents", path: "d/e/f", data: "new", opts: files.WriteOptions{Parents: true}, want: "new", wantMode: 0o644},
		{name: "onto a directory", path: "dir", data: "new", code: rpc.FailedPrecondition},
		{name: "own owner", path: "f", data: "new", opts: files.WriteOptions{UID: intp(os.Getuid()), GID: intp(os.Getgid())}, want: "new", wantMode: 0o644},
		{name: "empty", existing: "old", path: "f", data: "", want: "", wantMode: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Options{})
			if err := os.Mkdir(filepath.Join(e.root, "dir"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.existing != "" {
				e.put(t, tt.path, tt.existing)
				os.Chmod(filepath.Join(e.root, tt.path), 0o640)
			}
			res, err := e.c.Upload(ctx, strings.NewReader(tt.data), tt.path, tt.opts)
			wantCode(t, "upload", err, tt.code)
			if err == nil && res.Size != int64(len(tt.data)) {
				t.Errorf("upload reports %d bytes, sent %d", res.Size, len(tt.data))
			}
			if tt.want == "" && tt.code != rpc.OK {
				assertNoTemps(t, e.root)
				return
			}
			if got := e.get(t, tt.path); got != tt.want {
				t.Errorf("file holds %q, want %q", got, tt.want)
			}
			if fi, _ := os.Stat(filepath.Join(e.root, tt.path)); tt.code == rpc.OK && fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.wantMode)
			}
			var buf bytes.Buffer
			rres, err := e.c.Download(ctx, tt.path, &buf, files.ReadOptions{Checksum: true})
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want || rres.Size != int64(len(tt.want)) {
				t.Errorf("download %q (%d), want %q", buf.String(), rres.Size, tt.want)
			}
			assertNoTemps(t, e.root)
		})
	}
}

func TestReadRanges(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, files.Options{})
	e.put(t, "f", "0123456789")
	tests := []struct {
		opts files.ReadOptions
		want string
		code rpc.Code
	}{
		{files.ReadOptions{}, "0123456789", rpc.OK},
		{files.ReadOptions{Offset: 3}, "3456789", rpc.OK},
		{files.ReadOptions{Offset: 3, Length: 4, Checksum: true}, "3456", rpc.OK},
		{files.ReadOptions{Length: 100}, "0123456789", rpc.OK},
		{files.ReadOptions{Offset: 20}, "", rpc.OK},
		{files.ReadOptions{Offset: -1}, "", rpc.InvalidArgument},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		_, err := e.c.Download(ctx, "f", &buf, tt.opts)
		wantCode(t, "download", err, tt.code)
		if buf.String() != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.opts, buf.String(), tt.want)
		}
	}
	var buf bytes.Buffer
	_, err := e.c.Download(ctx, ".", &buf, files.ReadOptions{})
	wantCode(t, "download a directory", err, rpc.FailedPrecondition)
	_, err = e.c.Download(ctx, "nope", &buf, files.ReadOptions{})
	wantCode(t, "download missing", err, rpc.NotFound)
}

// TestProcLikeFile reads a file that reports size 0 but has content.
func TestProcLikeFile(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	e := newEnv(t, files.Options{Root: "/proc/self"})
	var buf bytes.Buffer
	res, err := e.c.Download(context.Background(), "status", &buf, files.ReadOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size == 0 || !strings.Contains(buf.String(), "Pid:") {
		t.Errorf("read %d bytes: %q", res.Size, buf.String())
	}
}

// failingReader fails after giving n bytes.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	m := min(len(p), r.n)
	r.n -= m
	return m, nil
}

func TestUploadSourceFailsKeepsOld(t *testing.T) {
	e := newEnv(t, files.Options{})
	e.put(t, "f", "old")
	_, err := e.c.Upload(context.Background(), &failingReader{n: 1 << 20}, "f", files.WriteOptions{})
	if err == nil {
		t.Fatal("upload of a failing source succeeded")
	}
	waitNoTemps(t, e.root)
	if got := e.get(t, "f"); got != "old" {
		t.Errorf("file holds %q after a failed upload", got)
	}
}

func TestUploadCanceledKeepsOld(t *testing.T) {
	e := newEnv(t, files.Options{})
	e.put(t, "f", "old")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Upload(ctx, pr, "f", files.WriteOptions{})
		done <- err
	}()
	pw.Write(bytes.Repeat([]byte("n"), 100<<10))
	cancel()
	pw.Close()
	if err := <-done; err == nil {
		t.Fatal("canceled upload succeeded")
	}
	waitNoTemps(t, e.root)
	if got := e.get(t, "f"); got != "old" {
		t.Errorf("file holds %q after a canceled upload", got)
	}
}

// cancelingReader gives data, then cancels its context and reports
// EOF in the same Read, as a source whose end races a cancellation.
type cancelingReader struct {
	data   []byte
	cancel context.CancelFunc
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		r.cancel()
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestUploadCanceledAtEOFKeepsOld: a context canceled before the source
// ended makes the upload fail without committing, even though the end
// of the source is seen before the cancellation reaches the agent.
func TestUploadCanceledAtEOFKeepsOld(t *testing.T) {
	e := newEnv(t, files.Options{})
	for i := range 20 {
		e.put(t, "f", "old")
		ctx, cancel := context.WithCancel(context.Background())
		_, err := e.c.Upload(ctx, &cancelingReader{bytes.Repeat([]byte("n"), 10<<10), cancel}, "f", files.WriteOptions{})
		if err == nil {
			t.Fatalf("upload %d, canceled before its source ended, succeeded", i)
		}
		waitNoTemps(t, e.root)
		if got := e.get(t, "f"); got != "old" {
			t.Fatalf("upload %d: file holds %d bytes after a canceled upload, want the old content", i, len(got))
		}
	}
}

func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB transfer skipped under -short")
	}
	const size = 256 << 20
	ctx := context.Background()
	e := newEnv(t, files.Options{Root: fastTempDir(t)})
	src := rand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	res, err := e.c.Upload(ctx, io.TeeReader(io.LimitReader(src, size), h), "big", files.WriteOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)
	if res.Size != size {
		t.Fatalf("uploaded %d bytes, want %d", res.Size, size)
	}
	h2 := sha256.New()
	rres, err := e.c.Download(ctx, "big", h2, files.ReadOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if rres.Size != size || !bytes.Equal(h2.Sum(nil), want) {
		t.Fatalf("download: %d bytes, sha256 %x, want %d, %x", rres.Size, h2.Sum(nil), size, want)
	}
}

// fastTempDir is a temporary directory in memory where there is one,
// so big transfers measure the transport rather than the disk.
func fastTempDir(tb testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "guestrpc-files-")
		if err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return tb.TempDir()
}

// temps lists leftover temporary files under root.
func temps(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".guestrpc-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// unnamedOpen reports whether the process holds an unnamed (O_TMPFILE)
// file under root open.
func unnamedOpen(root string) bool {
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(l, root+"/") && strings.Contains(l, "/#") && strings.HasSuffix(l, " (deleted)") {
			return true
		}
	}
	return false
}

func assertNoTemps(t *testing.T, root string) {
	t.Helper()
	if l := temps(root); len(l) > 0 {
		t.Errorf("temporary files left: %q", l)
	}
}

// waitNoTemps waits for the agent's handler to clean up after a call
// the client abandoned (the handler runs on after the client returns).
func waitNoTemps(t *testing.T, root string) {
	t.Helper()
	for range 500 {
		if len(temps(root)) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	assertNoTemps(t, root)
}
