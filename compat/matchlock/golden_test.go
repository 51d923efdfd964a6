package matchlock_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/compat/matchlock"
)

// TestGolden pins the bytes of every message type: the frame layout of
// the seed (type, big-endian length, payload), the JSON its Go types
// marshal to, and the binary payloads matchlock's source uses.
func TestGolden(t *testing.T) {
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		typ     uint8
		payload []byte
		want    string
	}{
		{"Exec", matchlock.MsgExec, js(matchlock.ExecRequest{Command: "id", WorkingDir: "/w", Env: map[string]string{"B": "2", "A": "1"}, Stdin: []byte("hi"), User: "1000:100"}),
			"\x01\x00\x00\x00\x5c" + `{"command":"id","working_dir":"/w","env":{"A":"1","B":"2"},"stdin":"aGk=","user":"1000:100"}`},
		{"ExecResult", matchlock.MsgExecResult, js(matchlock.ExecResponse{ExitCode: 2, Stdout: []byte("o\n"), Error: "e"}),
			"\x02\x00\x00\x00\x2b" + `{"exit_code":2,"stdout":"bwo=","error":"e"}`},
		{"ExecResult zero", matchlock.MsgExecResult, js(matchlock.ExecResponse{}),
			"\x02\x00\x00\x00\x0f" + `{"exit_code":0}`},
		{"Stdout", matchlock.MsgStdout, []byte("out"), "\x03\x00\x00\x00\x03out"},
		{"Stderr", matchlock.MsgStderr, []byte("err"), "\x04\x00\x00\x00\x03err"},
		{"Signal SIGTERM", matchlock.MsgSignal, matchlock.EncodeSignal(15), "\x05\x00\x00\x00\x01\x0f"},
		{"Ready (port-forward ACK)", matchlock.MsgReady, nil, "\x06\x00\x00\x00\x00"},
		{"Stdin", matchlock.MsgStdin, []byte("in"), "\x07\x00\x00\x00\x02in"},
		{"Stdin EOF", matchlock.MsgStdin, nil, "\x07\x00\x00\x00\x00"},
		{"Resize 50x132", matchlock.MsgResize, matchlock.EncodeResize(matchlock.WindowSize{Rows: 50, Cols: 132}), "\x08\x00\x00\x00\x04\x00\x32\x00\x84"},
		{"ExecTTY", matchlock.MsgExecTTY, js(matchlock.ExecTTYRequest{Command: "sh", Rows: 24, Cols: 80}),
			"\x09\x00\x00\x00\x24" + `{"command":"sh","rows":24,"cols":80}`},
		{"Exit 3", matchlock.MsgExit, matchlock.EncodeExit(3), "\x0a\x00\x00\x00\x04\x00\x00\x00\x03"},
		{"Exit -1 (signal)", matchlock.MsgExit, matchlock.EncodeExit(-1), "\x0a\x00\x00\x00\x04\xff\xff\xff\xff"},
		{"ExecStream", matchlock.MsgExecStream, js(matchlock.ExecRequest{Command: "ls"}), "\x0b\x00\x00\x00\x10" + `{"command":"ls"}`},
		{"ExecPipe", matchlock.MsgExecPipe, js(matchlock.ExecRequest{Command: "cat", User: "root"}), "\x0c\x00\x00\x00\x1f" + `{"command":"cat","user":"root"}`},
		{"PortForward", matchlock.MsgPortForward, js(matchlock.PortForwardRequest{Port: 8080}), "\x0d\x00\x00\x00\x0d" + `{"port":8080}`},
		{"WriteFile", matchlock.MsgWriteFile, js(matchlock.WriteFileRequest{Path: "/f", Content: []byte("abc"), Mode: 0o600}),
			"\x0e\x00\x00\x00\x29" + `{"path":"/f","content":"YWJj","mode":384}`},
		{"ReadFile", matchlock.MsgReadFile, js(matchlock.ReadFileRequest{Path: "/f"}), "\x0f\x00\x00\x00\x0d" + `{"path":"/f"}`},
		{"ListFiles", matchlock.MsgListFiles, js(matchlock.ListFilesRequest{Path: "/"}), "\x10\x00\x00\x00\x0c" + `{"path":"/"}`},
		{"FileResult", matchlock.MsgFileResult, js(matchlock.FileResponse{Files: []matchlock.FileInfo{{Name: "d", Size: 4096, Mode: 0x800001ed, IsDir: true}}}),
			"\x11\x00\x00\x00\x44" + `{"files":[{"name":"d","size":4096,"mode":2147484141,"is_dir":true}]}`},
		{"FileResult content", matchlock.MsgFileResult, js(matchlock.FileResponse{Content: []byte("abc")}), "\x11\x00\x00\x00\x12" + `{"content":"YWJj"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(matchlock.AppendFrame(nil, tc.typ, tc.payload))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("frame (-want +got):\n%s", d)
			}
		})
	}
}

func TestBinaryPayloads(t *testing.T) {
	if ws, err := matchlock.DecodeResize([]byte{0, 50, 0, 132, 9}); err != nil || ws != (matchlock.WindowSize{Rows: 50, Cols: 132}) {
		t.Errorf("DecodeResize: %+v, %v", ws, err)
	}
	if _, err := matchlock.DecodeResize([]byte{0, 50, 0}); err == nil {
		t.Error("DecodeResize of 3 bytes: no error")
	}
	for _, code := range []int{0, 1, 255, -1, 1 << 20} {
		if got, err := matchlock.DecodeExit(matchlock.EncodeExit(code)); err != nil || got != code {
			t.Errorf("Exit %d round trip: %d, %v", code, got, err)
		}
	}
	if _, err := matchlock.DecodeExit([]byte{0, 0}); err == nil {
		t.Error("DecodeExit of 2 bytes: no error")
	}
	if _, err := matchlock.DecodeSignal(nil); err == nil {
		t.Error("DecodeSignal of nothing: no error")
	}
}
