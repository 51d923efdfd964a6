package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// floorPair serves one floor connection in mode on a socket pair; child
// is the serving end.
func floorPair(t *testing.T, mode byte, dir, download string) (f *floorConn, child net.Conn) {
	t.Helper()
	a, z := testutil.SocketPair(t)
	done := make(chan error, 1)
	go func() { done <- serveFloorConn(a, dir, download) }()
	t.Cleanup(func() { z.Close(); a.Close(); <-done })
	if _, err := z.Write([]byte{mode}); err != nil {
		t.Fatal(err)
	}
	return &floorConn{c: z, buf: make([]byte, 4096)}, a
}

func TestFloorEcho(t *testing.T) {
	f, _ := floorPair(t, modeEcho, t.TempDir(), "")
	for i := range 3 {
		copy(f.buf, bytes.Repeat([]byte{byte(i + 1)}, pingSize))
		if err := f.ping(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.buf[:pingSize], bytes.Repeat([]byte{byte(i + 1)}, pingSize)) {
			t.Fatalf("echo %d came back as %x", i, f.buf[:pingSize])
		}
	}
}

func TestFloorUploadDownload(t *testing.T) {
	tests := []struct {
		name     string
		up, down byte
		bigBuf   bool
	}{
		{"system's buffers", modeUpload, modeDownload, false},
		{"guestrpc's send buffer", modeUploadBuf, modeDownloadBuf, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
			up, _ := floorPair(t, tt.up, dir, "")
			for range 2 { // the second upload replaces the first file
				if err := up.upload(data); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(filepath.Join(dir, "floor-up"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("floor-up holds %d bytes (%v), want the %d sent", len(got), err, len(data))
			}
			down, child := floorPair(t, tt.down, dir, filepath.Join(dir, "floor-up"))
			for range 2 {
				if err := down.download(int64(len(data))); err != nil {
					t.Fatal(err)
				}
			}
			// The child's end of the download asked for the big buffer
			// before it sent anything.
			if got := testutil.SendBuffer(t, child) >= 2*channel.DefaultUnixWriteBuffer; got != tt.bigBuf && testutil.WmemMax(t) >= channel.DefaultUnixWriteBuffer {
				t.Errorf("the download floor's send buffer is big: %v, want %v", got, tt.bigBuf)
			}
		})
	}
}

func TestFloorUnknownMode(t *testing.T) {
	a, z := testutil.SocketPair(t)
	if _, err := z.Write([]byte{'?'}); err != nil {
		t.Fatal(err)
	}
	if err := serveFloorConn(a, t.TempDir(), ""); err == nil {
		t.Fatal("mode ? was served")
	}
}

func TestFloorExec(t *testing.T) {
	f, _ := floorPair(t, modeExec, t.TempDir(), "")
	for range 3 {
		if err := f.exec(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFloorExecReportsExitCode runs a command that fails, so that a
// floor answering without running anything would be caught.
func TestFloorExecReportsExitCode(t *testing.T) {
	a, z := testutil.SocketPair(t)
	var out, errb bytes.Buffer
	tests := []struct {
		path string
		want byte
	}{{"/bin/true", 0}, {"/bin/false", 1}}
	for _, tt := range tests {
		if err := floorExec(a, tt.path, &out, &errb); err != nil {
			t.Fatal(err)
		}
		var code [1]byte
		if _, err := z.Read(code[:]); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, code[0]); diff != "" {
			t.Errorf("%s: exit code (-want +got):\n%s", tt.path, diff)
		}
	}
	if err := floorExec(a, "/nonexistent/true", &out, &errb); err == nil {
		t.Error("a command that cannot start was answered")
	}
}
