package matchlock_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestFiles(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	ctx := context.Background()
	tests := []struct {
		name     string
		path     string
		content  string
		mode     uint32
		existing fs.FileMode // 0: no file before
		wantMode fs.FileMode
	}{
		{"new file, default mode", "a/b/new.txt", "hello", 0, 0, 0o644},
		{"new file with mode", "secret", "s3cret", 0o600, 0, 0o600},
		{"empty file", "empty", "", 0o640, 0, 0o640},
		{"existing file keeps its mode", "old", "replaced", 0o600, 0o755, 0o755},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(e.dir, tc.path)
			if tc.existing != 0 {
				if err := os.WriteFile(p, []byte("old contents"), tc.existing); err != nil {
					t.Fatal(err)
				}
				_ = os.Chmod(p, tc.existing)
			}
			if err := e.cl.WriteFile(ctx, p, strings.NewReader(tc.content), int64(len(tc.content)), tc.mode); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.wantMode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.wantMode)
			}
			var back bytes.Buffer
			n, err := e.cl.ReadFile(ctx, p, &back)
			if err != nil || back.String() != tc.content || n != int64(len(tc.content)) {
				t.Errorf("ReadFile: %q (%d), %v; want %q", back.String(), n, err, tc.content)
			}
		})
	}
	list, err := e.cl.ListFiles(ctx, filepath.Join(e.dir, "a"))
	want := []matchlock.FileInfo{{Name: "b", Size: list0Size(t, filepath.Join(e.dir, "a/b")), Mode: uint32(fs.ModeDir | 0o755), IsDir: true}}
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("ListFiles (-want +got):\n%s", d)
	}
	for _, op := range []func() error{
		func() error { _, err := e.cl.ReadFile(ctx, filepath.Join(e.dir, "missing"), io.Discard); return err },
		func() error { _, err := e.cl.ReadFile(ctx, e.dir, io.Discard); return err },
		func() error { _, err := e.cl.ListFiles(ctx, filepath.Join(e.dir, "missing")); return err },
		func() error { return e.cl.WriteFile(ctx, "/etc/outside-the-root", strings.NewReader("x"), 1, 0) },
	} {
		if err := op(); !errors.Is(err, matchlock.ErrRemote) {
			t.Errorf("failing file operation: %v, want a RemoteError", err)
		}
	}
}

func list0Size(t *testing.T, p string) int64 {
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestPortForward(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the host half-closes
		_, _ = c.Write(bytes.ToUpper(b))
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	c, err := e.cl.OpenPortForward(context.Background(), "", port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("through the guest")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.UnixConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "THROUGH THE GUEST" {
		t.Errorf("forwarded: %q, %v", got, err)
	}
	<-served

	// Nothing listens on the closed port: a Stderr refusal.
	l.Close()
	_, err = e.cl.OpenPortForward(context.Background(), "127.0.0.1", port)
	var re *matchlock.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "connect 127.0.0.1:") {
		t.Errorf("forward to a closed port: %v, want a RemoteError naming the address", err)
	}
}

// TestPolicy: the agent's policy admits or refuses the matchlock peer by
// its unix credentials, as a native connection.
func TestPolicy(t *testing.T) {
	e := newEnv(t, rpc.Policy{AllowUIDs: []uint32{54321}, AllowGIDs: []uint32{54321}}, nil)
	ctx := context.Background()
	_, err := e.cl.Exec(ctx, matchlock.ExecRequest{Command: "true"})
	var re *matchlock.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "refused") {
		t.Errorf("Exec by a refused peer: %v", err)
	}
	_, err = e.cl.ListFiles(ctx, e.dir)
	if !errors.As(err, &re) || !strings.Contains(re.Message, "refused") {
		t.Errorf("ListFiles by a refused peer: %v", err)
	}
	// Method globs apply too.
	e = newEnv(t, rpc.Policy{Block: []string{"process.*"}}, nil)
	_, err = e.cl.Exec(ctx, matchlock.ExecRequest{Command: "true"})
	if !errors.As(err, &re) || !strings.Contains(strings.ToLower(re.Message), "process.start") {
		t.Errorf("Exec with process.* blocked: %v", err)
	}
	if _, err := e.cl.ListFiles(ctx, e.dir); err != nil {
		t.Errorf("ListFiles with only process.* blocked: %v", err)
	}
}

// TestReadFileWithoutSize: a file whose size is 0 but which has content
// (/proc) is read, as matchlock's agent reads it.
func TestReadFileWithoutSize(t *testing.T) {
	e := newEnvRoot(t, "/", rpc.Policy{}, nil)
	want, err := os.ReadFile("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := e.cl.ReadFile(context.Background(), "/proc/version", &got); err != nil || got.String() != string(want) {
		t.Errorf("ReadFile /proc/version: %q, %v; want %q", got.String(), err, want)
	}
}
