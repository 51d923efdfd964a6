package files

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWireJSON pins the JSON of every argument and result of the file.*
// methods: the structs are private, but their encoding is the protocol
// that other clients speak.
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
