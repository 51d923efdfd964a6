package hgfs_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newService returns a Service that the test's cleanup closes.
func newService(t testing.TB, opts hgfs.Options) *hgfs.Service {
	t.Helper()
	s, err := hgfs.NewService(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Packets are built here from the layouts in open-vm-tools' hgfsProto.h
// (all little-endian, packed), independently of the server's encoder.

type pkt struct{ b []byte }

func (p *pkt) u8(v uint8) *pkt   { p.b = append(p.b, v); return p }
func (p *pkt) u32(v uint32) *pkt { p.b = binary.LittleEndian.AppendUint32(p.b, v); return p }
func (p *pkt) u64(v uint64) *pkt { p.b = binary.LittleEndian.AppendUint64(p.b, v); return p }
func (p *pkt) raw(b []byte) *pkt { p.b = append(p.b, b...); return p }

// name appends HgfsFileName: length, the cross-platform name (path
// components separated by NUL) and a NUL the length does not count.
func (p *pkt) name(path string) *pkt {
	cp := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "\x00")
	return p.u32(uint32(len(cp))).raw([]byte(cp)).u8(0)
}

// nameV3 appends HgfsFileNameV3: length, flags, case type, handle, name.
func (p *pkt) nameV3(path string) *pkt {
	cp := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "\x00")
	return p.u32(uint32(len(cp))).u32(0).u32(0).u32(0xffffffff).raw([]byte(cp)).u8(0)
}

// v4 wraps body in the 52-byte HgfsHeader; operations before OpenV3
// also carry the legacy HgfsRequest words (id, op) first.
func v4(op hgfs.Op, id uint32, session uint64, body []byte) []byte {
	if op < hgfs.OpOpenV3 {
		body = append((&pkt{}).u32(id).u32(uint32(op)).b, body...)
	}
	h := &pkt{}
	h.u8(1).u8(0).u8(0).u8(0).u32(0xff).u32(uint32(52 + len(body))).u32(52).u32(id).u32(uint32(op))
	h.u32(0).u32(1).u32(0).u64(session).u64(0)
	return append(h.b, body...)
}

// legacy prefixes body with HgfsRequest (id, op).
func legacy(op hgfs.Op, id uint32, body []byte) []byte {
	return append((&pkt{}).u32(id).u32(uint32(op)).b, body...)
}

// reply is a parsed reply packet.
type reply struct {
	status hgfs.Status
	body   []byte
}

func parseV4(t *testing.T, b []byte, op hgfs.Op) reply {
	t.Helper()
	if len(b) < 52 || binary.LittleEndian.Uint32(b[4:]) != 0xff {
		t.Fatalf("reply is not a version 4 packet: %x", b)
	}
	if got := binary.LittleEndian.Uint32(b[8:]); int(got) != len(b) {
		t.Fatalf("reply packet size %d, have %d bytes", got, len(b))
	}
	r := reply{status: hgfs.Status(binary.LittleEndian.Uint32(b[24:])), body: b[52:]}
	if op < hgfs.OpOpenV3 {
		if len(r.body) < 8 {
			t.Fatalf("legacy op reply without HgfsReply: %x", b)
		}
		if st := hgfs.Status(binary.LittleEndian.Uint32(r.body[4:])); st != r.status {
			t.Fatalf("header status %d, HgfsReply status %d", r.status, st)
		}
		r.body = r.body[8:]
	}
	return r
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestGoldenErrors checks replies byte for byte for packets that must
// fail the same way whatever the file system holds.
func TestGoldenErrors(t *testing.T) {
	tests := []struct {
		name   string
		packet []byte
		want   []byte
	}{
		{"empty", nil, unhex("00000000 07000000")},
		{"short legacy", unhex("010000"), unhex("00000000 07000000")},
		{"legacy unsupported op", unhex("2a000000 05000000"), unhex("2a000000 0d000000")},
		{"legacy open without fields", unhex("07000000 00000000 0000"), unhex("07000000 07000000")},
		{"legacy open name past the end", legacy(hgfs.OpOpen, 3, (&pkt{}).u32(0).u32(0).u8(6).u32(100).raw([]byte("abc")).b), unhex("03000000 07000000")},
		{"legacy close bad handle", legacy(hgfs.OpClose, 9, (&pkt{}).u32(77).b), unhex("09000000 02000000")},
		{"v4 truncated header", unhex("01000000 ff000000 30000000"), unhex(
			"01000000 ff000000 34000000 34000000 00000000 00000000 07000000 02000000 00000000 0000000000000000 0000000000000000")},
		{"v4 unknown session", v4(hgfs.OpReadV3, 5, 0x1122334455667788, (&pkt{}).u32(1).u64(0).u32(10).u64(0).b), unhex(
			"01000000 ff000000 34000000 34000000 05000000 19000000 11000000 02000000 00000000 8877665544332211 0000000000000000")},
		{"v4 packet size beyond the data", func() []byte {
			p := v4(hgfs.OpCreateSessionV4, 6, 0, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b)
			binary.LittleEndian.PutUint32(p[8:], 4096)
			return p
		}(), unhex("01000000 ff000000 34000000 34000000 06000000 29000000 07000000 02000000 00000000 0000000000000000 0000000000000000")},
		{"v4 header size too small", func() []byte {
			p := v4(hgfs.OpCreateSessionV4, 6, 0, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b)
			binary.LittleEndian.PutUint32(p[12:], 8)
			return p
		}(), unhex("01000000 ff000000 34000000 34000000 06000000 29000000 07000000 02000000 00000000 0000000000000000 0000000000000000")},
		{"session with too many capabilities", v4(hgfs.OpCreateSessionV4, 8, 0, (&pkt{}).u32(1000).u32(0).u32(0).u32(0).b),
			unhex("01000000 ff000000 34000000 34000000 08000000 29000000 07000000 02000000 00000000 0000000000000000 0000000000000000")},
		{"legacy packet over the legacy maximum", legacy(hgfs.OpOpen, 4, make([]byte, hgfs.PacketMax)), unhex("04000000 07000000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t, hgfs.Options{})
			got := s.Dispatch(context.Background(), tt.packet)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("reply\n got %x\nwant %x", got, tt.want)
			}
		})
	}
}

// TestGoldenLegacySession runs open/getattr/close with the legacy
// header against a known file and checks every reply byte.
func TestGoldenLegacySession(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o640); err != nil {
		t.Fatal(err)
	}
	s := newService(t, hgfs.Options{})
	// HgfsRequestOpen: mode, flags, permissions, file name.
	got := s.Dispatch(context.Background(), legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeReadOnly).u32(hgfs.OpenFlagOpen).u8(6).name(p).b))
	if want := unhex("01000000 00000000 01000000"); !bytes.Equal(got, want) {
		t.Fatalf("open reply %x, want %x (handle 1)", got, want)
	}
	// ReadV3 with a legacy header: HgfsRequest, then HgfsRequestReadV3.
	got = s.Dispatch(context.Background(), legacy(hgfs.OpReadV3, 2, (&pkt{}).u32(1).u64(3).u32(4).u64(0).b))
	if want := append(unhex("02000000 00000000 04000000 0000000000000000"), "3456"...); !bytes.Equal(got, want) {
		t.Fatalf("read reply %x, want %x", got, want)
	}
	// GetattrV2: hints, handle, name.
	got = s.Dispatch(context.Background(), legacy(hgfs.OpGetattrV2, 3, (&pkt{}).u64(0).u32(0).name(p).b))
	if len(got) != 8+104+5 {
		t.Fatalf("getattr reply of %d bytes: %x", len(got), got)
	}
	if !bytes.Equal(got[:8], unhex("03000000 00000000")) {
		t.Fatalf("getattr reply header %x", got[:8])
	}
	a := got[8:]
	if typ, size := binary.LittleEndian.Uint32(a[8:]), binary.LittleEndian.Uint64(a[12:]); typ != hgfs.FileTypeRegular || size != 10 {
		t.Errorf("getattr: type %d size %d", typ, size)
	}
	if perms := a[52:56]; !bytes.Equal(perms, []byte{0, 6, 4, 0}) {
		t.Errorf("getattr perms %v, want [0 6 4 0]", perms)
	}
	if !bytes.Equal(got[8+104:], unhex("00000000 00")) {
		t.Errorf("symlink target %x, want empty", got[8+104:])
	}
	got = s.Dispatch(context.Background(), legacy(hgfs.OpClose, 4, (&pkt{}).u32(1).b))
	if want := unhex("04000000 00000000"); !bytes.Equal(got, want) {
		t.Fatalf("close reply %x, want %x", got, want)
	}
	got = s.Dispatch(context.Background(), legacy(hgfs.OpClose, 5, (&pkt{}).u32(1).b))
	if want := unhex("05000000 02000000"); !bytes.Equal(got, want) {
		t.Fatalf("second close reply %x, want %x (invalid handle)", got, want)
	}
	got = s.Dispatch(context.Background(), legacy(hgfs.OpOpen, 6, (&pkt{}).u32(0).u32(0).u8(6).name(filepath.Join(dir, "missing")).b))
	if want := unhex("06000000 01000000"); !bytes.Equal(got, want) {
		t.Fatalf("open missing reply %x, want %x", got, want)
	}
}

// session drives a version 4 session.
type session struct {
	t   *testing.T
	do  func([]byte) []byte
	id  uint64
	seq uint32
}

// dispatcher answers packets in s's own connection.
func dispatcher(s *hgfs.Service) func([]byte) []byte {
	return func(b []byte) []byte { return s.Dispatch(context.Background(), b) }
}

func newSession(t *testing.T, do func([]byte) []byte) *session {
	t.Helper()
	s := &session{t: t, do: do}
	// HgfsRequestCreateSessionV4: numCapabilities, maxPacketSize, flags,
	// reserved, capabilities.
	r := s.call(hgfs.OpCreateSessionV4, (&pkt{}).u32(1).u32(hgfs.LargePacketMax).u32(0).u32(0).u32(uint32(hgfs.OpReadV3)).u32(1).b)
	if r.status != hgfs.StatusSuccess || len(r.body) < 28 {
		t.Fatalf("create session: status %d, %x", r.status, r.body)
	}
	s.id = binary.LittleEndian.Uint64(r.body)
	ncaps := binary.LittleEndian.Uint32(r.body[8:])
	maxPacket := binary.LittleEndian.Uint32(r.body[12:])
	if maxPacket != hgfs.LegacyLargePacketMax || len(r.body) != 28+8*int(ncaps) {
		t.Fatalf("create session: max packet %#x, %d capabilities in %d bytes", maxPacket, ncaps, len(r.body))
	}
	return s
}

func (s *session) call(op hgfs.Op, body []byte) reply {
	s.t.Helper()
	s.seq++
	return parseV4(s.t, s.do(v4(op, s.seq, s.id, body)), op)
}

func (s *session) must(op hgfs.Op, body []byte) []byte {
	s.t.Helper()
	r := s.call(op, body)
	if r.status != hgfs.StatusSuccess {
		s.t.Fatalf("op %d: status %d", op, r.status)
	}
	return r.body
}

// openV3 body: mask, mode, flags, four permission bytes, attr,
// allocation size, desired access, share access, lock, two reserved,
// file name.
func openV3(path string, mode, flags uint32, perm uint8) []byte {
	const mask = 1 | 2 | 8 // mode, flags, owner permissions
	return (&pkt{}).u64(mask).u32(mode).u32(flags).u8(0).u8(perm).u8(0).u8(0).
		u64(0).u64(0).u32(0).u32(0).u32(0).u64(0).u64(0).nameV3(path).b
}

func TestSession(t *testing.T) {
	s := newService(t, hgfs.Options{})
	testSession(t, dispatcher(s))
}

// TestSessionOverRPC runs the same session through hgfs.packet.
func TestSessionOverRPC(t *testing.T) {
	s := newService(t, hgfs.Options{})
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)
	c := testutil.Pair(t, srv)
	testSession(t, func(p []byte) []byte {
		r, err := hgfs.NewClient(c).Do(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func testSession(t *testing.T, do func([]byte) []byte) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data.bin")
	ss := newSession(t, do)

	// Write in two chunks.
	b := ss.must(hgfs.OpOpenV3, openV3(p, hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreateEmpty, 6))
	h := binary.LittleEndian.Uint32(b)
	for i, chunk := range []string{"hello, ", "world"} {
		off := uint64(i * 7)
		// HgfsRequestWriteV3: handle, flags, offset, size, reserved, data.
		b = ss.must(hgfs.OpWriteV3, (&pkt{}).u32(h).u8(0).u64(off).u32(uint32(len(chunk))).u64(0).raw([]byte(chunk)).b)
		if n := binary.LittleEndian.Uint32(b); int(n) != len(chunk) {
			t.Fatalf("write %d of %d bytes", n, len(chunk))
		}
	}
	ss.must(hgfs.OpCloseV3, (&pkt{}).u32(h).u64(0).b)
	if got, _ := os.ReadFile(p); string(got) != "hello, world" {
		t.Fatalf("file holds %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %v, want 0600", fi.Mode().Perm())
	}

	// Getattr by name.
	b = ss.must(hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name(p).b)
	if size := binary.LittleEndian.Uint64(b[12:]); size != 12 {
		t.Errorf("getattr size %d", size)
	}

	// Read back in 5-byte pieces.
	b = ss.must(hgfs.OpOpenV3, openV3(p, hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0))
	h = binary.LittleEndian.Uint32(b)
	var got []byte
	for off := uint64(0); ; {
		b = ss.must(hgfs.OpReadV3, (&pkt{}).u32(h).u64(off).u32(5).u64(0).b)
		n := binary.LittleEndian.Uint32(b)
		if n == 0 {
			break
		}
		got = append(got, b[12:12+n]...)
		off += uint64(n)
	}
	if string(got) != "hello, world" {
		t.Errorf("read %q", got)
	}
	// Getattr by handle.
	b = ss.must(hgfs.OpGetattrV2, (&pkt{}).u64(1<<2).u32(h).name("").b)
	if size := binary.LittleEndian.Uint64(b[12:]); size != 12 {
		t.Errorf("getattr by handle: size %d", size)
	}
	ss.must(hgfs.OpClose, (&pkt{}).u32(h).b)

	// Setattr: size 5, mode 0644 (owner, group, other).
	attr := (&pkt{}).u64(1<<1 | 1<<7 | 1<<8 | 1<<9).u32(0).u64(5).u64(0).u64(0).u64(0).u64(0).
		u8(0).u8(6).u8(4).u8(4).u64(0).u64(0).u32(0).u32(0).u64(0).u32(0).u32(0).u64(0).b
	if len(attr) != 104 {
		t.Fatalf("attr of %d bytes", len(attr))
	}
	ss.must(hgfs.OpSetattrV2, (&pkt{}).u64(0).raw(attr).u32(0).name(p).b)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != 5 || fi.Mode().Perm() != 0o644 {
		t.Errorf("after setattr: %v %v", fi, err)
	}

	// Errors inside the session.
	tests := []struct {
		op   hgfs.Op
		body []byte
		want hgfs.Status
	}{
		{hgfs.OpOpenV3, openV3(filepath.Join(dir, "nope"), hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0), hgfs.StatusNoSuchFileOrDir},
		{hgfs.OpOpenV3, openV3(p, hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreateSafe, 6), hgfs.StatusFileExists},
		{hgfs.OpOpenV3, openV3(p, 7, hgfs.OpenFlagOpen, 0), hgfs.StatusInvalidParameter},
		{hgfs.OpOpenV3, openV3(dir, hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0), hgfs.StatusInvalidParameter},
		{hgfs.OpReadV3, (&pkt{}).u32(999).u64(0).u32(5).u64(0).b, hgfs.StatusInvalidHandle},
		{hgfs.OpWriteV3, (&pkt{}).u32(999).u8(0).u64(0).u32(50).u64(0).raw([]byte("short")).b, hgfs.StatusProtocolError},
		{hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name(filepath.Join(p, "sub")).b, hgfs.StatusNotDirectory},
		{hgfs.Op(4), nil, hgfs.StatusOperationNotSupported},
	}
	for _, tt := range tests {
		if r := ss.call(tt.op, tt.body); r.status != tt.want {
			t.Errorf("op %d: status %d, want %d", tt.op, r.status, tt.want)
		}
	}

	ss.must(hgfs.OpDestroySessionV4, (&pkt{}).u64(0).b)
	if r := ss.call(hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name(p).b); r.status != hgfs.StatusStaleSession {
		t.Errorf("op after destroy: status %d, want stale session", r.status)
	}
}

// TestProcSize checks that a file reporting size 0 is measured.
func TestProcSize(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	s := newService(t, hgfs.Options{})
	ss := newSession(t, dispatcher(s))
	b := ss.must(hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name("/proc/self/status").b)
	if size := binary.LittleEndian.Uint64(b[12:]); size == 0 {
		t.Error("a /proc file reports size 0")
	}
}

// TestArchive writes a tar.gz into a directory and reads one out,
// through open/write/read/close.
func TestArchive(t *testing.T) {
	s := newService(t, hgfs.Options{})
	ss := newSession(t, dispatcher(s))
	dir := filepath.Join(t.TempDir(), "unpacked")

	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "sub/a.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	tw.Write([]byte("hello"))
	tw.Close()
	zw.Close()

	b := ss.must(hgfs.OpOpenV3, openV3("archive:"+dir, hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6))
	h := binary.LittleEndian.Uint32(b)
	data := tgz.Bytes()
	for off := 0; off < len(data); off += 17 {
		chunk := data[off:min(off+17, len(data))]
		ss.must(hgfs.OpWriteV3, (&pkt{}).u32(h).u8(0).u64(uint64(off)).u32(uint32(len(chunk))).u64(0).raw(chunk).b)
	}
	ss.must(hgfs.OpCloseV3, (&pkt{}).u32(h).u64(0).b)
	if got, err := os.ReadFile(filepath.Join(dir, "sub/a.txt")); err != nil || string(got) != "hello" {
		t.Fatalf("extracted %q %v", got, err)
	}

	b = ss.must(hgfs.OpGetattrV2, (&pkt{}).u64(0).u32(0).name("archive:"+dir+"?format=tar").b)
	statSize := binary.LittleEndian.Uint64(b[12:])
	b = ss.must(hgfs.OpOpenV3, openV3("archive:"+dir+"?format=tar", hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0))
	h = binary.LittleEndian.Uint32(b)
	var tarball []byte
	for {
		b = ss.must(hgfs.OpReadV3, (&pkt{}).u32(h).u64(uint64(len(tarball))).u32(1000).u64(0).b)
		n := binary.LittleEndian.Uint32(b)
		if n == 0 {
			break
		}
		tarball = append(tarball, b[12:12+n]...)
	}
	ss.must(hgfs.OpClose, (&pkt{}).u32(h).b)
	if statSize != 0 {
		t.Errorf("getattr of an archive said %d bytes; an archive's size is unknown (0) until it is built", statSize)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	if diff := cmp.Diff([]string{"sub/", "sub/a.txt"}, names); diff != "" {
		t.Errorf("archive entries (-want +got):\n%s", diff)
	}
	// A reader that closes early does not leak the archive goroutine.
	b = ss.must(hgfs.OpOpenV3, openV3("archive:"+dir, hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0))
	ss.must(hgfs.OpClose, (&pkt{}).u32(binary.LittleEndian.Uint32(b)).b)
}

// TestContextReachesOperation: an operation whose caller has already
// given up does nothing, whether the packet comes through
// Service.Dispatch or Client.Do.
func TestContextReachesOperation(t *testing.T) {
	s := newService(t, hgfs.Options{})
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)
	c := testutil.Pair(t, srv)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		do   func(ctx context.Context, packet []byte) ([]byte, error)
	}{
		{"Service.Dispatch", func(ctx context.Context, p []byte) ([]byte, error) { return s.Dispatch(ctx, p), nil }},
		{"Client.Do", hgfs.NewClient(c).Do},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "new")
			create := legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeWriteOnly).u32(hgfs.OpenFlagCreateEmpty).u8(6).name(p).b)
			reply, err := tt.do(canceled, create)
			if err == nil && (len(reply) < 8 || hgfs.Status(binary.LittleEndian.Uint32(reply[4:])) == hgfs.StatusSuccess) {
				t.Errorf("canceled open: reply %x, want an error status or an error", reply)
			}
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("canceled open made %s (%v)", p, err)
			}
			reply, err = tt.do(context.Background(), create)
			if err != nil || len(reply) < 8 || hgfs.Status(binary.LittleEndian.Uint32(reply[4:])) != hgfs.StatusSuccess {
				t.Fatalf("open: reply %x, %v", reply, err)
			}
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("open did not make %s: %v", p, err)
			}
		})
	}
}
