//go:build linux

package vix_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/hgfs"
)

func TestFileOps(t *testing.T) {
	s, root := setup(t)
	j := func(n string) string { return filepath.Join(root, n) }
	writeFile(t, j("f"), "data")
	writeFile(t, j("g"), "data")
	os.MkdirAll(j("full/sub"), 0o755)
	os.Mkdir(j("empty"), 0o755)
	tests := []struct {
		name  string
		op    uint32
		body  []byte
		want  string
		check func() bool
	}{
		{"delete file", 194, pathBody(j("f")), "0 0 \x00", func() bool { _, err := os.Stat(j("f")); return os.IsNotExist(err) }},
		{"delete missing", 194, pathBody(j("f")), "4 2 \x00", nil},
		{"delete a dir as file", 194, pathBody(j("empty")), "20001 0 \x00", nil},
		{"delete empty path", 194, pathBody(""), "3 0 \x00", nil},
		{"delete outside root", 194, pathBody("/etc/passwd"), "13 13 \x00", nil},
		{"rmdir a file", 195, dirBody(j("g"), 0), "20002 0 \x00", nil},
		{"rmdir not empty", 195, dirBody(j("full"), 0), "20006 0 \x00", nil},
		{"rmdir recursive", 195, dirBody(j("full"), 1), "0 0 \x00", func() bool { _, err := os.Stat(j("full")); return os.IsNotExist(err) }},
		{"mkdir", 178, dirBody(j("new"), 0), "0 0 \x00", func() bool { fi, err := os.Stat(j("new")); return err == nil && fi.IsDir() }},
		{"mkdir existing", 178, dirBody(j("new"), 0), "12 0 \x00", nil},
		{"mkdir no parent", 178, dirBody(j("a/b/c"), 0), "4 2 \x00", nil},
		{"mkdir parents", 178, dirBody(j("a/b/c"), 1), "0 0 \x00", func() bool { _, err := os.Stat(j("a/b/c")); return err == nil }},
		{"move file", 179, moveBody(j("g"), j("h"), 0), "0 0 \x00", func() bool { b, _ := os.ReadFile(j("h")); return string(b) == "data" }},
		{"move dir as file", 179, moveBody(j("new"), j("new2"), 0), "20001 0 \x00", nil},
		{"move onto a dir", 179, moveBody(j("h"), j("new"), 1), "12 0 \x00", nil},
		{"move missing", 179, moveBody(j("nope"), j("x"), 0), "4 2 \x00", nil},
		{"move dir", 180, moveBody(j("new"), j("new2"), 0), "0 0 \x00", func() bool { _, err := os.Stat(j("new2")); return err == nil }},
		{"move file as dir", 180, moveBody(j("h"), j("i"), 0), "20002 0 \x00", nil},
		{"transfer to: exists", 189, cat(le32(0), le32(uint32(len(j("h")))), []byte{0}, cstr(j("h"))), "12 0 \x00", nil},
		{"transfer to: overwrite", 189, cat(le32(0), le32(uint32(len(j("h")))), []byte{1}, cstr(j("h"))), "0 0 \x00", nil},
		{"transfer to: a dir", 189, cat(le32(0), le32(uint32(len(j("new2")))), []byte{1}, cstr(j("new2"))), "20001 0 \x00", nil},
		{"transfer from: a dir", 188, listBody(j("new2"), "", 0, 0, 0), "20001 0 \x00", nil},
		{"path without its NUL", 194, cat(le32(0), le32(3), []byte("abc")), "10001 0 \x00", nil},
		{"path with an inner NUL", 194, cat(le32(0), le32(3), []byte("a\x00c\x00")), "10001 0 \x00", nil},
		{"path not UTF-8", 194, cat(le32(0), le32(2), []byte{0xff, 0xfe, 0}), "10001 0 \x00", nil},
		// OVT's parser leaves bytes after the last field unread.
		{"path with trailing bytes", 194, cat(pathBody(j("h")), []byte{0}), "0 0 \x00", nil},
		{"bad property list", 178, cat(le32(0), le32(uint32(len(j("p")))), le32(12), []byte{0}, cstr(j("p")), le32(1), le32(1), le32(9)), "10001 0 \x00", nil},
	}
	for _, tc := range tests {
		got := call(t, s, request(tc.op, tc.body))
		if got != tc.want {
			t.Errorf("%s: reply %q, want %q", tc.name, got, tc.want)
		} else if tc.check != nil && !tc.check() {
			t.Errorf("%s: not done", tc.name)
		}
	}
}

func TestReadOnlyPolicy(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "f"), "x")
	srv := agentSrvRO(t, root)
	s := newVIX(t, srv, nil)
	for _, tc := range []struct {
		op   uint32
		body []byte
	}{
		{194, pathBody(filepath.Join(root, "f"))},
		{178, dirBody(filepath.Join(root, "d"), 0)},
		{181, tempBody("p", "", root)},
	} {
		if got := call(t, s, request(tc.op, tc.body)); got != "13 13 \x00" {
			t.Errorf("op %d on read-only files: %q", tc.op, got)
		}
	}
}

func TestSetGuestFileAttributes(t *testing.T) {
	s, root := setup(t)
	p := filepath.Join(root, "f")
	writeFile(t, p, "x")
	if got := call(t, s, request(183, attrBody(1|2|0x40, 1000, 2000, 0, 0, 0o4750, 0, 0, p))); got != "0 0 \x00" {
		t.Fatalf("reply %q", got)
	}
	fi, _ := os.Stat(p)
	if at := fi.Sys().(*syscall.Stat_t).Atim.Sec; at != 1000 || fi.ModTime().Unix() != 2000 || fi.Mode() != os.ModeSetuid|0o750 {
		t.Errorf("atime %d mtime %d mode %v", at, fi.ModTime().Unix(), fi.Mode())
	}
	if got := call(t, s, request(183, attrBody(4, 0, 0, 0, 0, 0, 0, 1, p))); got != "0 0 \x00" {
		t.Fatalf("readonly: %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o550 || fi.ModTime().Unix() != 2000 {
		t.Errorf("after readonly: %v mtime %d", fi.Mode(), fi.ModTime().Unix())
	}
	if got := call(t, s, request(183, attrBody(1, 0, 0, 0, 0, 0, 0, 0, filepath.Join(root, "none")))); got != "4 2 \x00" {
		t.Errorf("missing file: %q", got)
	}
}

// fxi is the expected <fxi> of an entry, from os.Lstat.
func fxi(t *testing.T, name, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	ft, size, mode, link := 0, int64(0), uint32(0o100000), ""
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		ft, mode = 2, 0o120000
		link, _ = os.Readlink(p)
	case fi.IsDir():
		ft, mode = 1, 0o040000
	default:
		size = fi.Size()
	}
	mt := fi.ModTime().Unix()
	return fmt.Sprintf("<fxi><Name>%s</Name><ft>%d</ft><fs>%d</fs><mt>%d</mt><at>%d</at><uid>%d</uid><gid>%d</gid><perm>%d</perm><slt>%s</slt></fxi>",
		name, ft, size, mt, mt, os.Getuid(), os.Getgid(), mode|uint32(fi.Mode().Perm()), link)
}

func TestListFiles(t *testing.T) {
	s, root := setup(t)
	d := filepath.Join(root, "d")
	os.Mkdir(d, 0o750)
	writeFile(t, filepath.Join(d, "a"), "12345")
	writeFile(t, filepath.Join(d, "b&<c>%"), "")
	os.Mkdir(filepath.Join(d, "sub"), 0o700)
	os.Symlink("a<", filepath.Join(d, "l"))
	old := time.Unix(1_600_000_000, 0)
	for _, n := range []string{"a", "b&<c>%", "sub", "."} {
		os.Chtimes(filepath.Join(d, n), old, old)
	}
	e := map[string]string{
		".": fxi(t, ".", d), "..": fxi(t, "..", root), "a": fxi(t, "a", filepath.Join(d, "a")),
		"b": fxi(t, "b%26%3Cc%3E%25", filepath.Join(d, "b&<c>%")), "l": strings.Replace(fxi(t, "l", filepath.Join(d, "l")), "<slt>a<</slt>", "<slt>a%3C</slt>", 1),
		"sub": fxi(t, "sub", filepath.Join(d, "sub")),
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"all", listBody(d, "", 0, 100, 0), "<rem>0</rem>" + e["."] + e[".."] + e["a"] + e["b"] + e["l"] + e["sub"]},
		{"maxResults 2", listBody(d, "", 0, 2, 0), "<rem>4</rem>" + e["."] + e[".."]},
		{"index 2, maxResults 2", listBody(d, "", 2, 2, 0), "<rem>2</rem>" + e["a"] + e["b"]},
		{"index 2, maxResults 3, offset 1", listBody(d, "", 2, 3, 1), "<rem>1</rem>" + e["b"] + e["l"]},
		{"maxResults 0: none, all remaining", listBody(d, "", 1, 0, 0), "<rem>5</rem>"},
		{"index past the end", listBody(d, "", 9, 5, 0), "<rem>0</rem>"},
		{"pattern", listBody(d, "", 0, 100, 0)[:0], ""},
		{"one file", listBody(filepath.Join(d, "a"), "", 0, 10, 0), "<rem>0</rem>" + fxi(t, filepath.Join(d, "a"), filepath.Join(d, "a"))},
	}
	tests[6] = struct {
		name string
		body []byte
		want string
	}{"pattern", listBody(d, "^[ab]", 0, 100, 0), "<rem>0</rem>" + e["a"] + e["b"]}
	for _, tc := range tests {
		got := call(t, s, request(177, tc.body))
		if want := "0 0 " + tc.want + "\x00"; got != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
	for name, body := range map[string][]byte{
		"negative index":      listBody(d, "", -1, 10, 0),
		"negative maxResults": listBody(d, "", 0, -1, 0),
		"huge offset":         listBody(d, "", 0, 10, 1<<40),
		"offset past max":     listBody(d, "", 0, 2, 2),
		"bad pattern":         listBody(d, "(", 0, 10, 0),
		"empty path":          listBody("", "", 0, 10, 0),
	} {
		if got := call(t, s, request(177, body)); got != "3 0 \x00" {
			t.Errorf("%s: %q", name, got)
		}
	}
	if got := call(t, s, request(177, listBody(filepath.Join(d, "none"), "", 0, 10, 0))); got != "4 2 \x00" {
		t.Errorf("missing: %q", got)
	}
	if got := call(t, s, request(188, listBody(filepath.Join(d, "a"), "", 0, 0, 0))); got != "0 0 "+fxi(t, filepath.Join(d, "a"), filepath.Join(d, "a"))+"\x00" {
		t.Errorf("InitiateFileTransferFromGuest: %q", got)
	}
}

// TestListFilesCut fills a listing to the 64 KiB reply: it is cut where
// OVT's reserve says, and <rem> counts the rest. OVT reserves 26 bytes,
// then per entry strlen of its Linux format (127) + 102 + the escaped
// name, and takes an entry while the sum stays below 65483 (64 KiB less
// 53). ".", "..", 232 names of 50 bytes and one of 38 sum to 65482: all
// fit; with a last name of 39 they sum to 65483 and it is left out.
func TestListFilesCut(t *testing.T) {
	s, root := setup(t)
	for _, tc := range []struct {
		last      int
		n         int
		remaining int
	}{{38, 235, 0}, {39, 234, 1}} {
		d := filepath.Join(root, fmt.Sprint(tc.last))
		os.Mkdir(d, 0o755)
		for i := range 232 {
			writeFile(t, filepath.Join(d, fmt.Sprintf("%050d", i)), "")
		}
		writeFile(t, filepath.Join(d, strings.Repeat("z", tc.last)), "")
		got := call(t, s, request(177, listBody(d, "", 0, 10000, 0)))
		if n := strings.Count(got, "<fxi>"); n != tc.n || !strings.HasPrefix(got, fmt.Sprintf("0 0 <rem>%d</rem>", tc.remaining)) {
			t.Errorf("last name %d: %d entries, reply starts %.40q; want %d, <rem>%d</rem>", tc.last, n, got, tc.n, tc.remaining)
		}
	}
}

// hgfsPacket is op 84's body: u32 size, i32 timeout, the packet.
func hgfsBody(p []byte) []byte { return cat(le32(uint32(len(p))), le32(0), p) }

func binaryRequest(op uint32, body []byte) []byte {
	f := fields(op, body, testCred)
	f.flags |= 0x80
	return args(cat(f.bytes(), body, testCred))
}

// TestHGFSPacket opens a file with one VIX request and reads it with
// the next: the HGFS session lives on the server's connection.
func TestHGFSPacket(t *testing.T) {
	s, root := setup(t)
	p := filepath.Join(root, "f")
	writeFile(t, p, "hello")
	cp := strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "\x00")
	open := cat(le32(1), le32(uint32(hgfs.OpOpen)), le32(hgfs.OpenModeReadOnly), le32(hgfs.OpenFlagOpen), []byte{6},
		le32(uint32(len(cp))), []byte(cp), []byte{0})
	got := call(t, s, binaryRequest(84, hgfsBody(open)))
	if !strings.HasPrefix(got, "0 0 #") || len(got) != len("0 0 #")+12 || binary.LittleEndian.Uint32([]byte(got[9:])) != 0 {
		t.Fatalf("open reply %q", got)
	}
	h := binary.LittleEndian.Uint32([]byte(got[13:]))
	read := cat(le32(2), le32(uint32(hgfs.OpReadV3)), le32(h), le64(0), le32(100), le64(0))
	got = call(t, s, binaryRequest(84, hgfsBody(read)))
	if !strings.HasPrefix(got, "0 0 #") || !strings.HasSuffix(got, "hello") {
		t.Errorf("read reply %q", got)
	}
	if got := call(t, s, binaryRequest(84, hgfsBody(cat(le32(0x2a), le32(5))))); got != "0 0 #\x2a\x00\x00\x00\x0d\x00\x00\x00" {
		t.Errorf("unsupported op: %q", got)
	}
	if got := call(t, s, binaryRequest(84, cat(le32(100), le32(0), []byte{1, 2}))); got != "10001 0 #" {
		t.Errorf("size past the body: %q", got)
	}
}
