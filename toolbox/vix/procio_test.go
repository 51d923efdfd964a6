//go:build linux

package vix_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// setupIO is an agent whose HGFS "file" handler serves the VIX
// programs' stdio, with the round-trip Go function registered.
func setupIO(t *testing.T, max int) *vix.Server {
	t.Helper()
	root := t.TempDir()
	srv := rpc.NewServer(rpc.ServerOptions{})
	pm, err := process.NewService(process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pm.Close() })
	pm.Register(srv)
	pm.RegisterFunc("vix-roundtrip", vix.RoundTripFunc)
	fs, err := files.NewService(files.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hgfs.NewService(hgfs.Options{Files: fs.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close(); fs.Close() })
	fs.Register(srv)
	hs.Register(srv)
	s := newVIX(t, srv, func(o *vix.Options) {
		o.ProcessIO, o.ProcessIOMax, o.GoFuncs = true, max, []string{"vix-roundtrip"}
	})
	hs.HandleScheme("file", s.ProcessIO(hgfs.NewFileSystemHandler(fs.Policy())))
	return s
}

// hgfsCall sends one legacy HGFS packet through op 84 and returns the
// status and body of the reply.
func hgfsCall(t *testing.T, s *vix.Server, op hgfs.Op, body []byte) (hgfs.Status, []byte) {
	t.Helper()
	got := call(t, s, binaryRequest(84, hgfsBody(cat(le32(1), le32(uint32(op)), body))))
	reply, ok := strings.CutPrefix(got, "0 0 #")
	if !ok || len(reply) < 8 {
		t.Fatalf("op %d: reply %q", op, got)
	}
	return hgfs.Status(binary.LittleEndian.Uint32([]byte(reply[4:]))), []byte(reply[8:])
}

func cpName(p string) []byte {
	cp := strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "\x00")
	return cat(le32(uint32(len(cp))), []byte(cp), []byte{0})
}

func hgfsOpen(t *testing.T, s *vix.Server, p string, mode uint32) (uint32, hgfs.Status) {
	t.Helper()
	st, body := hgfsCall(t, s, hgfs.OpOpen, cat(le32(mode), le32(hgfs.OpenFlagOpen), []byte{6}, cpName(p)))
	if st != hgfs.StatusSuccess {
		return 0, st
	}
	return binary.LittleEndian.Uint32(body), st
}

// writeStdin sends data to a program's stdin through HGFS, then closes
// it (EOF).
func writeStdin(t *testing.T, s *vix.Server, pid, data string) {
	t.Helper()
	p := "/proc/" + pid + "/stdin"
	if got := call(t, s, request(189, cat(le32(0), le32(uint32(len(p))), []byte{1}, cstr(p)))); got != "0 0 \x00" {
		t.Fatalf("InitiateFileTransferToGuest %s: %q", p, got)
	}
	h, st := hgfsOpen(t, s, p, hgfs.OpenModeWriteOnly)
	if st != hgfs.StatusSuccess {
		t.Fatalf("open %s: status %d", p, st)
	}
	w := cat(le32(h), []byte{0}, le64(0), le32(uint32(len(data))), le64(0), []byte(data))
	if st, _ := hgfsCall(t, s, hgfs.OpWriteV3, w); st != hgfs.StatusSuccess {
		t.Fatalf("write %s: status %d", p, st)
	}
	if st, _ := hgfsCall(t, s, hgfs.OpClose, le32(h)); st != hgfs.StatusSuccess {
		t.Fatalf("close %s: status %d", p, st)
	}
}

// readOutput transfers /proc/<pid>/<stream>: the size the transfer
// announces, then the bytes.
func readOutput(t *testing.T, s *vix.Server, pid, stream string) string {
	t.Helper()
	p := "/proc/" + pid + "/" + stream
	got := call(t, s, request(188, listBody(p, "", 0, 0, 0)))
	m := regexp.MustCompile(`^0 0 <fxi><Name>` + regexp.QuoteMeta(p) + `</Name><ft>0</ft><fs>([0-9]+)</fs>.*<perm>33024</perm><slt></slt></fxi>\x00$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("InitiateFileTransferFromGuest %s: %q", p, got)
	}
	size, _ := strconv.Atoi(m[1])
	h, st := hgfsOpen(t, s, p, hgfs.OpenModeReadOnly)
	if st != hgfs.StatusSuccess {
		t.Fatalf("open %s: status %d", p, st)
	}
	defer hgfsCall(t, s, hgfs.OpClose, le32(h))
	st, body := hgfsCall(t, s, hgfs.OpReadV3, cat(le32(h), le64(0), le32(uint32(size)), le64(0)))
	if st != hgfs.StatusSuccess || len(body) < 12 {
		t.Fatalf("read %s: status %d", p, st)
	}
	n := binary.LittleEndian.Uint32(body)
	if int(n) != size {
		t.Errorf("%s: read %d bytes, the transfer announced %d", p, n, size)
	}
	return string(body[12 : 12+n]) // HgfsReplyReadV3: actualSize, reserved, payload
}

// TestProcessIO feeds a program's stdin and reads its stdout and
// stderr as files, with no file on disk.
func TestProcessIO(t *testing.T) {
	s := setupIO(t, 0)
	pid := startProgram(t, s, startBody("/bin/sh", `-c 'tr a-z A-Z; echo oops >&2; exit 4'`, ""))
	writeStdin(t, s, pid, "hello\n")
	if got := readOutput(t, s, pid, "stdout"); got != "HELLO\n" {
		t.Errorf("stdout %q", got)
	}
	if got := readOutput(t, s, pid, "stderr"); got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
	if entry := waitExited(t, s, pid); !strings.Contains(entry, "<eCode>4</eCode>") {
		t.Errorf("entry %q", entry)
	}
	if _, st := hgfsOpen(t, s, "/proc/"+pid+"/stdout", hgfs.OpenModeWriteOnly); st == hgfs.StatusSuccess {
		t.Error("stdout opened for writing")
	}
	if got := call(t, s, request(188, listBody("/proc/"+pid+"/stdin", "", 0, 0, 0))); got != "13 0 \x00" {
		t.Errorf("transfer from stdin: %q", got)
	}
}

// TestProcessIOBounded: a program writing more than its buffer waits
// for the host to read; all of it arrives, in pieces.
func TestProcessIOBounded(t *testing.T) {
	s := setupIO(t, 1000)
	pid := startProgram(t, s, startBody("/bin/sh", `-c 'head -c 5000 /dev/zero | tr "\0" x'`, ""))
	var out string
	for i := 0; i < 100 && len(out) < 5000; i++ {
		piece := readOutput(t, s, pid, "stdout")
		if len(piece) > 1000 {
			t.Fatalf("read %d bytes from a 1000-byte buffer", len(piece))
		}
		out += piece
	}
	if out != strings.Repeat("x", 5000) {
		t.Errorf("got %d bytes", len(out))
	}
	waitExited(t, s, pid)
}

// TestRoundTrip runs one HTTP exchange with a server the guest reaches
// through the round-trip Go function's stdin and stdout.
func TestRoundTrip(t *testing.T) {
	s := setupIO(t, 0)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "you asked for %s", r.URL.Path)
	}))
	defer web.Close()
	addr := strings.TrimPrefix(web.URL, "http://")
	pid := startProgram(t, s, startBody("vix-roundtrip", addr, ""))
	if n, _ := strconv.Atoi(pid); n < 1<<23 {
		t.Errorf("Go function pid %s", pid)
	}
	writeStdin(t, s, pid, "GET /x HTTP/1.0\r\nHost: guest\r\n\r\n")
	raw := readOutput(t, s, pid, "stdout")
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%v in %q", err, raw)
	}
	defer resp.Body.Close()
	body := make([]byte, 100)
	n, _ := resp.Body.Read(body)
	if resp.StatusCode != 200 || string(body[:n]) != "you asked for /x" {
		t.Errorf("status %d body %q", resp.StatusCode, body[:n])
	}
	entry := waitExited(t, s, pid)
	if !strings.Contains(entry, "<cmd>vix-roundtrip</cmd><name>vix-roundtrip "+addr+"</name>") || !strings.Contains(entry, "<eCode>0</eCode>") {
		t.Errorf("entry %q", entry)
	}
}

// TestRoundTripHalfClose: stdin's EOF reaches the guest service as a
// half-close, so a service that reads to the end answers.
func TestRoundTripHalfClose(t *testing.T) {
	s := setupIO(t, 0)
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
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "read %d bytes", len(b))
	}()
	pid := startProgram(t, s, startBody("vix-roundtrip", l.Addr().String(), ""))
	writeStdin(t, s, pid, "twelve bytes")
	if got := readOutput(t, s, pid, "stdout"); got != "read 12 bytes" {
		t.Fatalf("stdout %q", got) // the service still waits: closing the server ends it
	}
	<-served
	waitExited(t, s, pid)
}
