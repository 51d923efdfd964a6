package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hang bounds waits; reaching it means something hung.
const hang = time.Minute

// fakeQGA answers qemu-ga's protocol from memory: files by path, a
// process that reports itself running for exitAfter polls.
type fakeQGA struct {
	files     map[string][]byte
	handles   map[int64]*fakeHandle
	exitAfter int
	polls     int
	// reply, when set, answers every command with this line instead.
	reply string
	// shortWrite makes guest-file-write claim one byte fewer.
	shortWrite bool
	log        []string
}

type fakeHandle struct {
	path string
	off  int
}

func newFake() *fakeQGA {
	return &fakeQGA{files: map[string][]byte{}, handles: map[int64]*fakeHandle{}}
}

// serve answers requests on conn until it closes.
func (f *fakeQGA) serve(conn net.Conn) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var req struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
		}
		out := f.reply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			out = `{"error": {"class": "GenericError", "desc": "bad json"}}`
		} else if out == "" {
			f.log = append(f.log, req.Execute)
			out = f.answer(req.Execute, req.Arguments)
		}
		if _, err := io.WriteString(conn, out+"\n"); err != nil {
			return
		}
	}
}

func ret(v any) string {
	b, _ := json.Marshal(map[string]any{"return": v})
	return string(b)
}

func (f *fakeQGA) answer(cmd string, raw json.RawMessage) string {
	var a struct {
		ID     int64  `json:"id"`
		PID    int64  `json:"pid"`
		Path   string `json:"path"`
		Mode   string `json:"mode"`
		Handle int64  `json:"handle"`
		Buf    string `json:"buf-b64"`
		Count  int    `json:"count"`
	}
	_ = json.Unmarshal(raw, &a)
	switch cmd {
	case "guest-sync":
		return ret(a.ID)
	case "guest-ping":
		return ret(map[string]any{})
	case "guest-exec":
		return ret(map[string]any{"pid": 4242})
	case "guest-exec-status":
		f.polls++
		if f.polls <= f.exitAfter {
			return ret(map[string]any{"exited": false})
		}
		return ret(map[string]any{"exited": true, "exitcode": 3})
	case "guest-file-open":
		if a.Mode == "w" {
			f.files[a.Path] = nil
		} else if _, ok := f.files[a.Path]; !ok {
			return `{"error": {"class": "GenericError", "desc": "failed to open file '` + a.Path + `'"}}`
		}
		h := int64(1000 + len(f.handles))
		f.handles[h] = &fakeHandle{path: a.Path}
		return ret(h)
	case "guest-file-write":
		b, _ := base64.StdEncoding.DecodeString(a.Buf)
		h := f.handles[a.Handle]
		f.files[h.path] = append(f.files[h.path], b...)
		n := len(b)
		if f.shortWrite {
			n--
		}
		return ret(map[string]any{"count": n, "eof": false})
	case "guest-file-read":
		h := f.handles[a.Handle]
		data := f.files[h.path][h.off:]
		n := min(a.Count, len(data))
		h.off += n
		return ret(map[string]any{"count": n, "buf-b64": base64.StdEncoding.EncodeToString(data[:n]), "eof": h.off == len(f.files[h.path])})
	case "guest-file-close":
		delete(f.handles, a.Handle)
		return ret(map[string]any{})
	}
	return `{"error": {"class": "CommandNotFound", "desc": "The command ` + cmd + ` has not been found"}}`
}

// start serves f on one end of a socket pair and returns a client on
// the other; cleanup closes both and waits for the server.
func start(t *testing.T, f *fakeQGA, maxLine int) *QGA {
	t.Helper()
	a, z := testutil.SocketPair(t)
	done := make(chan struct{})
	go func() { defer close(done); f.serve(a) }()
	t.Cleanup(func() { z.Close(); a.Close(); <-done })
	return NewQGA(z, maxLine)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

func TestQGAPingSync(t *testing.T) {
	f := newFake()
	q := start(t, f, 0)
	ctx := ctxT(t)
	if err := q.Sync(ctx, 77); err != nil {
		t.Fatal(err)
	}
	if err := q.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"guest-sync", "guest-ping"}, f.log); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestQGAExecPollsUntilExited(t *testing.T) {
	for _, exitAfter := range []int{0, 1, 5} {
		t.Run(fmt.Sprint(exitAfter), func(t *testing.T) {
			f := newFake()
			f.exitAfter = exitAfter
			q := start(t, f, 0)
			st, polls, err := q.Exec(ctxT(t), "/bin/true", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Exited || st.ExitCode == nil || *st.ExitCode != 3 || polls != exitAfter+1 {
				t.Errorf("Exec = %+v after %d polls, want exited with 3 after %d", st, polls, exitAfter+1)
			}
		})
	}
}

func TestQGAFileRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 16},
		{"one short chunk", 5, 16},
		{"exact chunks", 64, 16},
		{"ragged", 1000, 64},
		{"many chunks", 3<<16 + 17, 1 << 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			q := start(t, f, 0)
			ctx := ctxT(t)
			data := make([]byte, tt.size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			n, err := q.Upload(ctx, "/f", bytes.NewReader(data), tt.chunk)
			if err != nil || n != int64(tt.size) {
				t.Fatalf("Upload = %d, %v; want %d", n, err, tt.size)
			}
			if !bytes.Equal(f.files["/f"], data) {
				t.Fatalf("the agent holds %d bytes that differ from the %d sent", len(f.files["/f"]), len(data))
			}
			var got bytes.Buffer
			n, err = q.Download(ctx, "/f", &got, tt.chunk)
			if err != nil || n != int64(tt.size) || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("Download = %d, %v, equal %v; want %d", n, err, bytes.Equal(got.Bytes(), data), tt.size)
			}
			if len(f.handles) != 0 {
				t.Errorf("%d handles left open", len(f.handles))
			}
		})
	}
}

func TestQGAErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*fakeQGA)
		maxLine int
		do      func(context.Context, *QGA) error
		want    error
		class   string
	}{
		{"agent error", nil, 0, func(ctx context.Context, q *QGA) error {
			_, err := q.Download(ctx, "/missing", io.Discard, 16)
			return err
		}, nil, "GenericError"},
		{"unknown command", nil, 0, func(ctx context.Context, q *QGA) error {
			return q.Call(ctx, "guest-nope", nil, nil)
		}, nil, "CommandNotFound"},
		{"short write", func(f *fakeQGA) { f.shortWrite = true }, 0, func(ctx context.Context, q *QGA) error {
			_, err := q.Upload(ctx, "/f", strings.NewReader("hello"), 16)
			return err
		}, ErrQGAReply, ""},
		{"sync id mismatch", func(f *fakeQGA) { f.reply = `{"return": 1}` }, 0, func(ctx context.Context, q *QGA) error {
			return q.Sync(ctx, 2)
		}, ErrQGAReply, ""},
		{"neither return nor error", func(f *fakeQGA) { f.reply = `{}` }, 0, func(ctx context.Context, q *QGA) error {
			return q.Ping(ctx)
		}, ErrQGAReply, ""},
		{"not json", func(f *fakeQGA) { f.reply = `hello` }, 0, func(ctx context.Context, q *QGA) error {
			return q.Ping(ctx)
		}, ErrQGAReply, ""},
		{"exec without pid", func(f *fakeQGA) { f.reply = `{"return": {}}` }, 0, func(ctx context.Context, q *QGA) error {
			_, _, err := q.Exec(ctx, "/bin/true", nil)
			return err
		}, ErrQGAReply, ""},
		{"read lies about count", func(f *fakeQGA) { f.reply = `{"return": {"count": 9, "buf-b64": "aGVsbG8=", "eof": true}}` }, 0, func(ctx context.Context, q *QGA) error {
			_, err := q.Download(ctx, "/f", io.Discard, 16)
			return err
		}, ErrQGAReply, ""},
		{"read sends more than asked", func(f *fakeQGA) {
			f.reply = `{"return": {"count": 40, "buf-b64": "` + base64.StdEncoding.EncodeToString(make([]byte, 40)) + `", "eof": true}}`
		}, 0, func(ctx context.Context, q *QGA) error {
			_, err := q.Download(ctx, "/f", io.Discard, 16)
			return err
		}, ErrQGAReply, ""},
		{"line too long", func(f *fakeQGA) { f.reply = `{"return": "` + strings.Repeat("x", 300) + `"}` }, 100, func(ctx context.Context, q *QGA) error {
			return q.Ping(ctx)
		}, ErrQGALineTooLong, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			q := start(t, f, tt.maxLine)
			err := tt.do(ctxT(t), q)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var qe *QGAError
			if tt.class != "" && (!errors.As(err, &qe) || qe.Class != tt.class) {
				t.Fatalf("err = %v, want a QGAError of class %s", err, tt.class)
			}
		})
	}
}

// TestQGACanceled: a canceled ctx ends a call whose reply never comes.
func TestQGACanceled(t *testing.T) {
	a, z := testutil.SocketPair(t)
	defer a.Close()
	q := NewQGA(z, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.Ping(ctx) }()
	if _, err := bufio.NewReader(a).ReadString('\n'); err != nil { // the request arrived
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(hang):
		t.Fatal("Ping ignored its canceled ctx")
	}
}

func FuzzDecodeQGAReply(f *testing.F) {
	for _, s := range []string{`{"return": {}}`, `{"return": 5}`, `{"error": {"class": "X", "desc": "y"}}`, `{}`, `[`, `{"return": {"count": 5, "buf-b64": "aGVsbG8=", "eof": true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var rw qgaRW
		_ = DecodeQGAReply("guest-file-read", line, &rw)
		var st QGAExecStatus
		_ = DecodeQGAReply("guest-exec-status", line, &st)
	})
}

// TestMarshalFileWrite: the hand-built guest-file-write request is the
// JSON encoding/json would make.
func TestMarshalFileWrite(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hi"), bytes.Repeat([]byte{0xff, 0, '"'}, 100)} {
		got, err := marshalRequest("guest-file-write", fileWrite{7, data})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"execute": "guest-file-write",
			"arguments": map[string]any{"handle": 7, "buf-b64": base64.StdEncoding.EncodeToString(data)}})
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		_ = json.Unmarshal(want, &w)
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("request (-want +got):\n%s", diff)
		}
	}
}
