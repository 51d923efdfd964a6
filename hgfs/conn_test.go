package hgfs_test

import (
	"context"
	"encoding/binary"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/rpc"
)

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors needs /proc: %v", err)
	}
	return len(entries)
}

func legacyOpen(name string) []byte {
	return legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeReadOnly).u32(hgfs.OpenFlagOpen).u8(6).name(name).b)
}

func legacyRead(h uint32) []byte {
	return legacy(hgfs.OpReadV3, 2, (&pkt{}).u32(h).u64(0).u32(100).u64(0).b)
}

// legacyStatus returns the status of a legacy reply and its body.
func legacyStatus(t *testing.T, r []byte) (hgfs.Status, []byte) {
	t.Helper()
	if len(r) < 8 {
		t.Fatalf("reply of %d bytes", len(r))
	}
	return hgfs.Status(binary.LittleEndian.Uint32(r[4:])), r[8:]
}

// TestConnStateEndsWithConnection fills one connection's sessions and
// handles, leaves, and checks that the descriptors are released, that
// later connections get sessions, and that no connection reaches
// another's handles.
func TestConnStateEndsWithConnection(t *testing.T) {
	dir := t.TempDir()
	fileA, fileB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(fileA, []byte("A's file"), 0o644)
	os.WriteFile(fileB, []byte("B's file"), 0o644)
	pol, err := files.NewPolicy(files.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	s := newService(t, hgfs.Options{Files: pol})
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)

	base := openFDs(t)
	a := dialHGFS(t, srv)
	for i := range 64 {
		newSession(t, a.do)
		_ = i
	}
	r := a.do(v4(hgfs.OpCreateSessionV4, 1, 0, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b))
	if st := parseV4(t, r, hgfs.OpCreateSessionV4).status; st != hgfs.StatusTooManySessions {
		t.Fatalf("65th session: status %d, want TOO_MANY_SESSIONS", st)
	}
	var handles []uint32
	for range 1023 {
		st, body := legacyStatus(t, a.do(legacyOpen(fileA)))
		if st != hgfs.StatusSuccess {
			t.Fatalf("open %d: status %d", len(handles)+1, st)
		}
		handles = append(handles, binary.LittleEndian.Uint32(body))
	}
	st, _ := legacyStatus(t, a.do(legacyOpen(fileA)))
	st2, _ := legacyStatus(t, a.do(legacyOpen(fileA)))
	if st != hgfs.StatusSuccess || st2 != hgfs.StatusTooManySessions {
		t.Fatalf("opens 1024 and 1025: status %d and %d, want success then TOO_MANY_SESSIONS", st, st2)
	}
	peak := openFDs(t)
	if peak-base < 1024 {
		t.Fatalf("%d descriptors before, %d with 1024 files open", base, peak)
	}

	// B, while A is still connected: A's handles are not B's.
	b := dialHGFS(t, srv)
	st, body := legacyStatus(t, b.do(legacyOpen(fileB)))
	if st != hgfs.StatusSuccess {
		t.Fatalf("B open: status %d", st)
	}
	hb := binary.LittleEndian.Uint32(body)
	st, body = legacyStatus(t, b.do(legacyRead(hb)))
	if st != hgfs.StatusSuccess || string(body[12:]) != "B's file" {
		t.Fatalf("B read of its own handle %d: status %d, %q", hb, st, body)
	}
	for _, h := range handles[:4] {
		if h == hb {
			continue
		}
		if st, body := legacyStatus(t, b.do(legacyRead(h))); st != hgfs.StatusInvalidHandle {
			t.Fatalf("B read of A's handle %d: status %d, %q", h, st, body)
		}
	}

	a.close()
	after := openFDs(t)
	t.Logf("descriptors: %d before, %d with A's 1024 files open, %d after A left", base, peak, after)
	if after-base > 8 {
		t.Errorf("%d descriptors after A left, %d before: A's files were not released", after, base)
	}
	// A later connection gets all 64 sessions and 1024 handles.
	c := dialHGFS(t, srv)
	for range 64 {
		newSession(t, c.do)
	}
	for _, h := range handles[:8] {
		if st, _ := legacyStatus(t, c.do(legacyRead(h))); st != hgfs.StatusInvalidHandle {
			t.Fatalf("C read of A's old handle %d: status %d", h, st)
		}
	}
	for range 1024 {
		if st, _ := legacyStatus(t, c.do(legacyOpen(fileB))); st != hgfs.StatusSuccess {
			t.Fatalf("C open: status %d", st)
		}
	}
}

// TestMaxOpenFilesAcrossConns caps open files across connections.
func TestMaxOpenFilesAcrossConns(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, nil, 0o644)
	s := newService(t, hgfs.Options{MaxOpenFiles: 10, MaxHandles: 8})
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)
	a, b := dialHGFS(t, srv), dialHGFS(t, srv)
	var got []hgfs.Status
	for _, p := range []*peer{a, a, a, a, a, a, b, b, b, b, b} {
		st, _ := legacyStatus(t, p.do(legacyOpen(f)))
		got = append(got, st)
	}
	for i, st := range got {
		want := hgfs.StatusSuccess
		if i == 10 {
			want = hgfs.StatusTooManySessions
		}
		if st != want {
			t.Errorf("open %d: status %d, want %d", i+1, st, want)
		}
	}
	a.close()
	if st, _ := legacyStatus(t, b.do(legacyOpen(f))); st != hgfs.StatusSuccess {
		t.Errorf("open after A left: status %d", st)
	}
}

// TestArchiveGetattrDoesNotBuild asks GetattrV2 of archive:DIR and checks
// that no file under DIR was read (its access time, older than its
// modification time, would move under relatime).
func TestArchiveGetattrDoesNotBuild(t *testing.T) {
	dir := t.TempDir()
	probe, control := filepath.Join(dir, "tree", "probe"), filepath.Join(dir, "control")
	os.MkdirAll(filepath.Dir(probe), 0o755)
	old, mtime := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []string{probe, control} {
		if err := os.WriteFile(p, []byte("probe"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.ReadFile(control); err != nil {
		t.Fatal(err)
	}
	if atime(t, control).Equal(old) {
		t.Fatalf("reading %s left its access time: this file system cannot show whether a file was read", control)
	}
	s := newService(t, hgfs.Options{})
	ss := newSession(t, dispatcher(s))
	for _, name := range []string{"archive:" + filepath.Dir(probe), "archive:" + filepath.Dir(probe) + "?format=tar"} {
		b := ss.must(hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name(name).b)
		if size := binary.LittleEndian.Uint64(b[12:]); size != 0 {
			t.Errorf("%s: size %d, want 0 (unknown until built)", name, size)
		}
	}
	if got := atime(t, probe); !got.Equal(old) {
		t.Errorf("getattr of the archive read %s (access time %v)", probe, got)
	}
}

// TestCancelledOperations runs each operation with a context that has
// already ended: none may act.
func TestCancelledOperations(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("data"), 0o644)
	s := newService(t, hgfs.Options{})
	conn := s.NewConn()
	defer conn.Close()
	ss := newSession(t, func(b []byte) []byte { return conn.Dispatch(context.Background(), b) })
	h := binary.LittleEndian.Uint32(ss.must(hgfs.OpOpenV3, openV3(p, hgfs.OpenModeReadWrite, hgfs.OpenFlagOpen, 0)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cs := &session{t: t, id: ss.id, do: func(b []byte) []byte { return conn.Dispatch(ctx, b) }}
	tests := []struct {
		op   hgfs.Op
		body []byte
	}{
		{hgfs.OpOpenV3, openV3(filepath.Join(dir, "new"), hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6)},
		{hgfs.OpWriteV3, (&pkt{}).u32(h).u8(0).u64(0).u32(4).u64(0).raw([]byte("XXXX")).b},
		{hgfs.OpReadV3, (&pkt{}).u32(h).u64(0).u32(4).u64(0).b},
		{hgfs.OpSetattrV2, setattrMode(p, 7, 7, 7)},
		{hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name(p).b},
		{hgfs.OpCloseV3, (&pkt{}).u32(h).u64(0).b},
		{hgfs.OpDestroySessionV4, (&pkt{}).u64(0).b},
		{hgfs.OpCreateSessionV4, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b},
	}
	for _, tt := range tests {
		if r := cs.call(tt.op, tt.body); r.status == hgfs.StatusSuccess {
			t.Errorf("op %d with an ended context succeeded", tt.op)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a cancelled open created a file")
	}
	fi, _ := os.Stat(p)
	if got, _ := os.ReadFile(p); string(got) != "data" || fi.Mode().Perm() != 0o644 {
		t.Errorf("a cancelled operation changed the file: %q %v", got, fi.Mode())
	}
	// The handle and the session are still there.
	ss.must(hgfs.OpReadV3, (&pkt{}).u32(h).u64(0).u32(4).u64(0).b)
	ss.must(hgfs.OpCloseV3, (&pkt{}).u32(h).u64(0).b)
}

// gateHandler opens Files whose reads wait for their context.
type gateHandler struct{ entered, release chan struct{} }

func (g gateHandler) Stat(context.Context, *url.URL) (fs.FileInfo, error) { return nil, fs.ErrNotExist }

func (g gateHandler) Open(context.Context, *url.URL, hgfs.OpenRequest) (hgfs.File, error) {
	return gateFile(g), nil
}

type gateFile gateHandler

// Read waits until the test ends: the server must read with ReadContext.
func (g gateFile) Read([]byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return 0, context.Canceled
}
func (g gateFile) Write(p []byte) (int, error) { return len(p), nil }
func (g gateFile) Close() error                { return nil }

func (g gateFile) ReadContext(ctx context.Context, _ []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestReadWaitsEndWithCaller cancels a ReadV3 that waits for a stream
// (as an archive being built): the call ends, and the handle is usable
// again.
func TestReadWaitsEndWithCaller(t *testing.T) {
	s := newService(t, hgfs.Options{})
	g := gateHandler{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s.HandleScheme("gate", g)
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)
	p := dialHGFS(t, srv)
	t.Cleanup(func() { close(g.release) }) // before the connection closes
	ss := newSession(t, p.do)
	h := binary.LittleEndian.Uint32(ss.must(hgfs.OpOpenV3, openV3("gate:/x", hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := hgfs.NewClient(p.c).Do(ctx, v4(hgfs.OpReadV3, 99, ss.id, (&pkt{}).u32(h).u64(0).u32(10).u64(0).b))
		done <- err
	}()
	<-g.entered
	cancel()
	if err := <-done; err == nil {
		t.Error("cancelled read returned no error")
	}
	// The close waits for the handle's read to end on the agent.
	closed := make(chan []byte, 1)
	go func() {
		r, _ := hgfs.NewClient(p.c).Do(context.Background(), v4(hgfs.OpCloseV3, 100, ss.id, (&pkt{}).u32(h).u64(0).b))
		closed <- r
	}()
	select {
	case r := <-closed:
		if st := parseV4(t, r, hgfs.OpCloseV3).status; st != hgfs.StatusSuccess {
			t.Errorf("close after the cancelled read: status %d", st)
		}
	case <-time.After(30 * time.Second): // a guard against a hang, not a measurement
		t.Fatal("the cancelled read still holds its handle on the agent")
	}
}
