package matchlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{"\x01\x00\x00\x00\x02{}", "\x0a\x00\x00\x00\x04\xff\xff\xff\xff", "\x01\xff\xff\xff\xff", "\x01\x00", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			typ, p, err := ReadFrame(r, 1<<10)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unclassified error %v", err)
				}
				return
			}
			if len(p) > 1<<10 {
				t.Fatalf("payload of %d bytes past the cap", len(p))
			}
			if got := AppendFrame(nil, typ, p); !bytes.HasSuffix(b[:len(b)-r.Len()], got) {
				t.Fatalf("frame does not re-encode to its bytes")
			}
		}
	})
}

// FuzzScanObject: the streaming reader agrees with encoding/json on
// every WriteFileRequest it accepts, and whenever encoding/json accepts
// one, so does it (small members within its cap).
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{"path":"/f","content":"YWJj","mode":384}`, `{"content":null}`, `{}`, `{"content":"YW\/j\u0042Yw==","path":"x"}`,
		`{"path":"a","content":"YQ==YQ=="}`, `{"path":"a","content":"Y\nQ=="}`, `{"path":"a","content":"Y\\nQ=="}`,
		`{"path":"a","x":[1,{"y":"z"}],"content":""}`, `{"path":"a","content":"YWJj"} x`, `{"path":"a","path":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var content bytes.Buffer
		small, found, err := scanObject(bytes.NewReader(b), "content", 4<<10, func([]byte) (io.Writer, error) { return &content, nil })
		var got, want WriteFileRequest
		if err == nil {
			err = json.Unmarshal(small, &got)
		}
		wantErr := json.Unmarshal(b, &want)
		// Known differences: a repeated content member (encoding/json
		// takes the last, matching names without regard to case), a
		// top level that is not an object (null), members past the cap.
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		if bytes.Count(bytes.ToLower(b), []byte(`content"`)) > 1 || len(trimmed) == 0 || trimmed[0] != '{' || len(b) >= 4<<10 {
			return
		}
		switch {
		case err != nil && wantErr != nil:
			return
		case err != nil:
			t.Fatalf("refused %q that encoding/json takes: %v", b, err)
		case wantErr != nil:
			t.Fatalf("accepted %q that encoding/json refuses: %v", b, wantErr)
		}
		if found {
			got.Content = content.Bytes()
		}
		if got.Path != want.Path || got.Mode != want.Mode || !bytes.Equal(got.Content, want.Content) {
			t.Fatalf("%q: got %+v, encoding/json %+v", b, got, want)
		}
	})
}

func FuzzPayloads(f *testing.F) {
	f.Add(uint8(MsgExec), []byte(`{"command":"x","env":{"A":"1"},"stdin":"aGk="}`))
	f.Add(uint8(MsgExecTTY), []byte(`{"command":"x","rows":1,"cols":2}`))
	f.Add(uint8(MsgResize), []byte{0, 1, 0, 2})
	f.Add(uint8(MsgExit), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, typ uint8, p []byte) {
		switch typ {
		case MsgExec, MsgExecStream, MsgExecPipe:
			var req ExecRequest
			_ = decodeJSON(p, &req)
			_ = specOf(&req)
		case MsgExecTTY:
			var req ExecTTYRequest
			_ = decodeJSON(p, &req)
			_ = ttySpecOf(&req)
		case MsgPortForward:
			_ = decodeJSON(p, &PortForwardRequest{})
		case MsgReadFile, MsgListFiles:
			_ = decodeJSON(p, &ReadFileRequest{})
		case MsgExecResult:
			_ = decodeJSON(p, &ExecResponse{})
		case MsgFileResult:
			_ = decodeJSON(p, &FileResponse{})
		case MsgResize:
			if ws, err := DecodeResize(p); err == nil && !bytes.Equal(EncodeResize(ws), p[:4]) {
				t.Fatal("resize does not round-trip")
			}
		case MsgExit:
			if c, err := DecodeExit(p); err == nil && !bytes.Equal(EncodeExit(c), p[:4]) {
				t.Fatal("exit does not round-trip")
			}
		case MsgSignal:
			_, _ = DecodeSignal(p)
		}
	})
}

// TestScanObjectLongContent: content longer than the decoder's chunk
// decodes like encoding/json, padding in the middle is refused even at a
// chunk boundary, and escapes and a truncated string are handled.
func TestScanObjectLongContent(t *testing.T) {
	long := bytes.Repeat([]byte("QUJD"), 3*b64Chunk/4+5)
	tests := []struct {
		name    string
		content string
		want    string // "" with wantErr
		wantErr bool
	}{
		{"several chunks", string(long), string(bytes.Repeat([]byte("ABC"), 3*b64Chunk/4+5)), false},
		{"padding at a chunk boundary", string(long[:b64Chunk-4]) + "QQ==" + "QUJD", "", true},
		{"escaped slash across chunks", string(long[:b64Chunk-1]) + `\/` + "////", "", false},
		{"raw newline", "QUJD\nQUJD", "", true},
		{"escaped newline", `QUJD\nQUJD`, "ABCABC", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := []byte(`{"path":"p","content":"` + tc.content + `"}`)
			var got bytes.Buffer
			_, _, err := scanObject(bytes.NewReader(doc), "content", 1<<10, func([]byte) (io.Writer, error) { return &got, nil })
			var ref WriteFileRequest
			refErr := json.Unmarshal(doc, &ref)
			if (err != nil) != tc.wantErr || (refErr != nil) != tc.wantErr {
				t.Fatalf("error %v (encoding/json: %v), want error %v", err, refErr, tc.wantErr)
			}
			if err == nil && !bytes.Equal(got.Bytes(), ref.Content) {
				t.Errorf("%d bytes decoded, encoding/json %d", got.Len(), len(ref.Content))
			}
			if tc.want != "" && got.String() != tc.want {
				t.Errorf("decoded %d bytes, want %d", got.Len(), len(tc.want))
			}
		})
	}
	_, _, err := scanObject(bytes.NewReader([]byte(`{"content":"QUJ`)), "content", 1<<10, func([]byte) (io.Writer, error) { return io.Discard, nil })
	if !errors.Is(err, ErrBadPayload) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated content: %v", err)
	}
}
