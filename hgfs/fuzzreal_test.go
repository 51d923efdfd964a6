package hgfs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
)

// fuzzMarker stands, in fuzz inputs, for the directory of one run:
// each run replaces it with a fresh directory of the same length, so
// that the names in the packets (whose lengths they carry) stay valid.
const fuzzMarker = "/tmp/guestrpc-hgfs-fuzz/0000000000"

// fuzzDir makes the directory of one run: r (the root, holding f, a
// symlink out to o, and hl, a hard link to o/secret) and o beside it.
func fuzzDir(t *testing.T) string {
	t.Helper()
	dir := fmt.Sprintf("/tmp/guestrpc-hgfs-fuzz/%010d", rand.Uint32())
	if len(dir) != len(fuzzMarker) {
		t.Fatalf("run directory %q does not match the marker's length", dir)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, err := range []error{
		os.MkdirAll(dir+"/r/d", 0o755),
		os.MkdirAll(dir+"/o", 0o755),
		os.WriteFile(dir+"/o/secret", []byte("secret"), 0o600),
		os.WriteFile(dir+"/r/f", []byte("hello"), 0o644),
		os.Symlink(dir+"/o", dir+"/r/out"),
		os.Link(dir+"/o/secret", dir+"/r/hl"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cpName is path in the protocol's cross-platform form.
func cpName(path string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "\x00"))
}

// packets joins packets as a fuzz input: each a 16-bit length, then the
// packet.
func packets(ps ...[]byte) []byte {
	var b []byte
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

// FuzzDispatchFiles runs packet sequences against the real file and
// archive handlers under a rooted policy: every reply is well formed,
// nothing beside the root changes, and closing the server releases
// every descriptor and goroutine.
func FuzzDispatchFiles(f *testing.F) {
	for _, seed := range dispatchFilesSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		dir := fuzzDir(t)
		// Names travel with NUL between components. ReplaceAll copies: the
		// fuzzer's input is read-only.
		input = bytes.ReplaceAll(input, cpName(fuzzMarker), cpName(dir))
		pol, err := files.NewPolicy(files.Options{Root: dir + "/r"})
		if err != nil {
			t.Fatal(err)
		}
		defer pol.Close()
		s, err := hgfs.NewService(hgfs.Options{Files: pol, MaxHandles: 8})
		if err != nil {
			t.Fatal(err)
		}
		c := s.NewConn()
		var session uint64
		for n := 0; len(input) >= 2 && n < 16; n++ {
			size := min(int(binary.LittleEndian.Uint16(input)), len(input)-2)
			packet := input[2 : 2+size]
			input = input[2+size:]
			if len(packet) >= 52 && binary.LittleEndian.Uint32(packet[4:]) == 0xff {
				binary.LittleEndian.PutUint64(packet[36:], session) // the session opened before
			}
			reply := c.Dispatch(context.Background(), packet)
			checkReply(t, reply)
			if len(packet) >= 52 && len(reply) >= 60 && binary.LittleEndian.Uint32(reply[20:]) == uint32(hgfs.OpCreateSessionV4) &&
				binary.LittleEndian.Uint32(reply[24:]) == 0 {
				session = binary.LittleEndian.Uint64(reply[52:])
			}
		}
		if err := s.Close(); err != nil {
			t.Logf("close: %v", err)
		}
		b, err := os.ReadFile(dir + "/o/secret")
		fi, serr := os.Stat(dir + "/o/secret")
		entries, _ := os.ReadDir(dir + "/o")
		if err != nil || serr != nil || string(b) != "secret" || fi.Mode() != 0o600 || len(entries) != 1 {
			t.Fatalf("beside the root: secret %q mode %v, %d entries (%v %v)", b, fi.Mode(), len(entries), err, serr)
		}
		if top, _ := os.ReadDir(dir); len(top) != 2 {
			t.Fatalf("the run directory holds %v", top)
		}
		if _, err := os.Lstat(filepath.Join(dir, "x")); err == nil {
			t.Fatal("a file appeared beside the root")
		}
	})
}

// dispatchFilesSeeds are packet sequences that read, write, change and
// archive inside the root and try to leave it.
func dispatchFilesSeeds() [][]byte {
	m := fuzzMarker
	sess := v4(hgfs.OpCreateSessionV4, 1, 0, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b)
	return [][]byte{
		packets(legacyOpen(m+"/r/f"), legacyRead(1), legacy(hgfs.OpClose, 3, (&pkt{}).u32(1).b)),
		packets(legacyOpen(m+"/o/secret"), legacyRead(1)),
		packets(legacyOpen(m+"/r/out/secret"), legacyOpen(m+"/r/../o/secret")),
		packets(sess, v4(hgfs.OpOpenV3, 2, 0, openV3(m+"/r/new", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6)),
			v4(hgfs.OpWriteV3, 3, 0, (&pkt{}).u32(1).u8(0).u64(0).u32(3).u64(0).raw([]byte("abc")).b)),
		packets(sess, v4(hgfs.OpOpenV3, 2, 0, openV3(m+"/r/hl", hgfs.OpenModeReadWrite, hgfs.OpenFlagOpenEmpty, 6))),
		packets(sess, v4(hgfs.OpSetattrV2, 2, 0, setattrMode(m+"/r/hl", 7, 7, 7)), v4(hgfs.OpSetattrV2, 3, 0, setattrSize(m+"/r/out/secret", 0))),
		packets(sess, v4(hgfs.OpGetattrV2, 2, 0, (&pkt{}).u64(0).u32(0).name("archive:"+m+"/r").b),
			v4(hgfs.OpOpenV3, 3, 0, openV3("archive:"+m+"/r", hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0)),
			legacyRead(1)),
		packets(sess, v4(hgfs.OpOpenV3, 2, 0, openV3("archive:"+m+"/r/x?format=tar", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 0)),
			v4(hgfs.OpWriteV3, 3, 0, (&pkt{}).u32(1).u8(0).u64(0).u32(512).u64(0).raw(tarHeader("../../o/x")).b),
			v4(hgfs.OpCloseV3, 4, 0, (&pkt{}).u32(1).u64(0).b)),
	}
}

func checkReply(t *testing.T, reply []byte) {
	t.Helper()
	if len(reply) < 8 || len(reply) > hgfs.LargePacketMax {
		t.Fatalf("reply of %d bytes", len(reply))
	}
	if binary.LittleEndian.Uint32(reply[4:]) == 0xff {
		if got := binary.LittleEndian.Uint32(reply[8:]); int(got) != len(reply) {
			t.Fatalf("reply declares %d bytes, has %d", got, len(reply))
		}
	}
}

// tarHeader is one 512-byte tar header block for a regular file of
// size 0 named name.
func tarHeader(name string) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[124:], "00000000000\x00")
	copy(b[136:], "00000000000\x00")
	b[156] = '0'
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}
