package files

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWireJSON pins the JSON of every argument and result of the file.*
// methods: the structs are private, but their encoding is the protocol
// that other clients speak (PROTOCOL.md, "File methods").
func TestWireJSON(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	uid, gid := 7, 8
	tests := []struct {
		v    any
		want string
	}{
		{statRequest{Path: "/p", Lstat: true}, `{"path":"/p","lstat":true}`},
		{statRequest{Path: "/p"}, `{"path":"/p"}`},
		{listRequest{Path: "/d", PageSize: 10}, `{"path":"/d","page_size":10}`},
		{listResult{Count: 3}, `{"count":3}`},
		{mkdirRequest{Path: "/d", Mode: 0o750, Parents: true}, `{"path":"/d","mode":488,"parents":true}`},
		{removeRequest{Path: "/d", Recursive: true}, `{"path":"/d","recursive":true}`},
		{renameRequest{From: "/a", To: "/b", Overwrite: true}, `{"from":"/a","to":"/b","overwrite":true}`},
		{chmodRequest{Path: "/f", Mode: 0}, `{"path":"/f","mode":0}`},
		{chownRequest{Path: "/f", UID: -1, GID: 5, Lchown: true}, `{"path":"/f","uid":-1,"gid":5,"lchown":true}`},
		{chtimesRequest{Path: "/f", Atime: at, Mtime: at}, `{"path":"/f","atime":"2024-01-02T03:04:05Z","mtime":"2024-01-02T03:04:05Z"}`},
		{mkTempRequest{Dir: "/t", Prefix: "p", Suffix: "s", Directory: true}, `{"dir":"/t","prefix":"p","suffix":"s","directory":true}`},
		{mkTempRequest{}, `{}`},
		{mkTempResult{Path: "/t/x"}, `{"path":"/t/x"}`},
		{readRequest{Path: "/f", ReadOptions: ReadOptions{Offset: 1, Length: 2, Checksum: true}}, `{"path":"/f","offset":1,"length":2,"checksum":true}`},
		{ReadResult{Size: 2, SHA256: "ab"}, `{"size":2,"sha256":"ab"}`},
		{writeRequest{Path: "/f", WriteOptions: WriteOptions{Flag: Append, Mode: 0o600, UID: &uid, GID: &gid, Parents: true, Checksum: true}},
			`{"path":"/f","flag":"append","mode":384,"uid":7,"gid":8,"parents":true,"checksum":true}`},
		{writeRequest{Path: "/f"}, `{"path":"/f"}`},
		{WriteResult{Size: 1}, `{"size":1}`},
		{archiveRequest{Path: "/d", Op: "put", Gzip: true, KeepSetuid: true}, `{"path":"/d","op":"put","gzip":true,"keep_setuid":true}`},
		{ArchiveResult{Entries: 1, Bytes: 2}, `{"entries":1,"bytes":2}`},
		{FileInfo{Name: "n", Size: 1, Mode: 0o644, ModTime: at, UID: 0, GID: 0, Link: "l"},
			`{"name":"n","size":1,"mode":420,"mtime":"2024-01-02T03:04:05Z","uid":0,"gid":0,"link":"l"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(b)); diff != "" {
			t.Errorf("%T (-want +got):\n%s", tt.v, diff)
		}
	}
}

// TestProtocolDoc checks that PROTOCOL.md's table of file methods names
// every method and, in its row, every field of the method's arguments
// and result.
func TestProtocolDoc(t *testing.T) {
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if m, ok := strings.CutPrefix(line, "| `file."); ok {
			name, _, _ := strings.Cut(m, "`")
			rows["file."+name] = line
		}
	}
	methods := []struct {
		name string
		args any
		res  any
	}{
		{methodStat, statRequest{}, nil},
		{methodList, listRequest{}, listResult{}},
		{methodMkdir, mkdirRequest{}, nil},
		{methodRemove, removeRequest{}, nil},
		{methodRename, renameRequest{}, nil},
		{methodChmod, chmodRequest{}, nil},
		{methodChown, chownRequest{}, nil},
		{methodChtimes, chtimesRequest{}, nil},
		{methodMkTemp, mkTempRequest{}, mkTempResult{}},
		{methodRead, readRequest{}, ReadResult{}},
		{methodWrite, writeRequest{}, WriteResult{}},
		{methodArchive, archiveRequest{}, ArchiveResult{}},
	}
	var missing []string
	for _, m := range methods {
		row, ok := rows[m.name]
		if !ok {
			missing = append(missing, m.name)
			continue
		}
		delete(rows, m.name)
		for _, v := range []any{m.args, m.res} {
			for _, f := range jsonFields(reflect.TypeOf(v)) {
				if !strings.Contains(row, `"`+f+`"`) {
					missing = append(missing, m.name+" "+f)
				}
			}
		}
	}
	for name := range rows {
		missing = append(missing, "no such method "+name)
	}
	if len(missing) > 0 {
		t.Errorf("PROTOCOL.md's file methods do not match the code: %q", missing)
	}
	for _, f := range jsonFields(reflect.TypeOf(FileInfo{})) {
		if !strings.Contains(string(doc), `"`+f+`"`) {
			t.Errorf("PROTOCOL.md does not describe FileInfo's %q", f)
		}
	}
}

// jsonFields lists the JSON names of t's fields, embedded structs
// flattened; nil lists none.
func jsonFields(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}
