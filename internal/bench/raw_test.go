package bench

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestServeRaw runs each job over a pipe and checks what comes back.
func TestServeRaw(t *testing.T) {
	ping := bytes.Repeat([]byte("0123456789abcdef"), 3)
	for _, tc := range []struct {
		name  string
		send  []byte // headers and payloads
		reply int    // bytes to read back
		want  []byte // nil: reply bytes of anything
	}{
		{"echo", append(hdr('e', 3), ping...), 48, ping},
		{"upload", append(hdr('u', 5), "hello"...), 1, []byte("k")},
		{"download", hdr('d', 300<<10), 300 << 10, nil},
		{"empty jobs", append(append(hdr('e', 0), hdr('u', 0)...), hdr('d', 0)...), 1, []byte("k")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, guest := net.Pipe()
			done := make(chan error, 1)
			go func() { done <- ServeRaw(guest); guest.Close() }()
			go func() { _, _ = host.Write(tc.send) }()
			got := make([]byte, tc.reply)
			if _, err := io.ReadFull(host, got); err != nil {
				t.Fatal(err)
			}
			host.Close()
			if err := <-done; err != nil {
				t.Errorf("ServeRaw: %v", err)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestServeRawFiles: an 'f' job reads its bytes into a file in the
// directory, acknowledges them and leaves nothing behind; ServeRaw,
// which has no directory, refuses it.
func TestServeRawFiles(t *testing.T) {
	dir := t.TempDir()
	host, guest := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeRawFiles(guest, dir); guest.Close() }()
	payload := bytes.Repeat([]byte("raw"), 200<<10)
	go func() { _, _ = host.Write(append(hdr('f', int64(len(payload))), payload...)) }()
	var k [1]byte
	if _, err := io.ReadFull(host, k[:]); err != nil || k[0] != 'k' {
		t.Fatalf("acknowledgement %q: %v", k[:], err)
	}
	host.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeRawFiles: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
	err := ServeRaw(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(append(hdr('f', 3), "abc"...)), io.Discard})
	if !errors.Is(err, ErrRawJob) {
		t.Errorf("ServeRaw with an 'f' job: %v, want ErrRawJob", err)
	}
}

// TestServeRawDownloadFile: a 'p' job puts the download file in place,
// 'g' jobs send its first n bytes, and a 'g' job past its end fails;
// ServeRaw, which has no directory, refuses both.
func TestServeRawDownloadFile(t *testing.T) {
	dir := t.TempDir()
	host, guest := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeRawFiles(guest, dir); guest.Close() }()
	payload := bytes.Repeat([]byte("0123456789"), 60<<10)
	go func() { _, _ = host.Write(append(hdr('p', int64(len(payload))), payload...)) }()
	var k [1]byte
	if _, err := io.ReadFull(host, k[:]); err != nil || k[0] != 'k' {
		t.Fatalf("acknowledgement %q: %v", k[:], err)
	}
	for _, n := range []int{len(payload), 5, 300 << 10} {
		if _, err := host.Write(hdr('g', int64(n))); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(host, got); err != nil {
			t.Fatalf("'g' of %d bytes: %v", n, err)
		}
		if diff := cmp.Diff(payload[:n], got); diff != "" {
			t.Fatalf("'g' of %d bytes (-want +got):\n%s", n, diff)
		}
	}
	if _, err := host.Write(hdr('g', int64(len(payload)+1))); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, host); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "1 bytes short") {
		t.Errorf("ServeRawFiles after a 'g' past the file's end: %v, want the file ends 1 bytes short", err)
	}
	for _, op := range []byte{'p', 'g'} {
		err := ServeRaw(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(append(hdr(op, 3), "abc"...)), io.Discard})
		if !errors.Is(err, ErrRawJob) {
			t.Errorf("ServeRaw with a %q job: %v, want ErrRawJob", op, err)
		}
	}
}

// TestServeRawRefuses: unknown jobs and sizes past the cap end the
// serving with ErrRawJob.
func TestServeRawRefuses(t *testing.T) {
	for _, h := range [][]byte{hdr('x', 1), hdr('d', MaxRawJob+1)} {
		err := ServeRaw(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(h), io.Discard})
		if !errors.Is(err, ErrRawJob) {
			t.Errorf("header %q: %v, want ErrRawJob", h, err)
		}
	}
}

func hdr(op byte, n int64) []byte { h := RawHeader(op, n); return h[:] }

// capped fails writes past its budget, so that a fuzzed download of up
// to MaxRawJob bytes ends quickly.
type capped struct{ left int }

func (c *capped) Write(p []byte) (int, error) {
	if c.left < len(p) {
		return 0, io.ErrShortWrite
	}
	c.left -= len(p)
	return len(p), nil
}

// FuzzServeRaw: any input ends the serving without a panic, with nil, a
// refusal or an I/O error.
func FuzzServeRaw(f *testing.F) {
	f.Add(hdr('e', 1))
	f.Add(append(hdr('u', 2), "ab"...))
	f.Add(hdr('d', 1<<20))
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = ServeRaw(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), &capped{left: 1 << 20}})
	})
}
