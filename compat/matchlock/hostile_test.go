package matchlock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestHostilePeers: a peer that breaks the protocol gets a clear answer
// in the form its request expects, its connection ends, and the agent
// keeps serving.
func TestHostilePeers(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	tests := []struct {
		name     string
		send     string
		wantType uint8  // 0: no reply
		wantText string // in the reply's error or text
	}{
		{"4 GiB exec", "\x01\xff\xff\xff\xff", matchlock.MsgExecResult, "frame too large"},
		{"4 GiB write_file", "\x0e\xff\xff\xff\xff", matchlock.MsgFileResult, "frame too large"},
		{"17 MiB stdin-less pipe", "\x0c\x01\x10\x00\x00", matchlock.MsgStderr, "frame too large"},
		{"garbage JSON", "\x01\x00\x00\x00\x03{{{", matchlock.MsgExecResult, "malformed payload"},
		{"garbage read_file", "\x0f\x00\x00\x00\x04null", matchlock.MsgFileResult, "empty path"},
		{"bad base64", "\x0e\x00\x00\x00\x1c" + `{"path":"/x","content":"@@"}`, matchlock.MsgFileResult, "base64"},
		{"unknown type", "\x63\x00\x00\x00\x00", matchlock.MsgStderr, "type 99 does not start a request"},
		{"a reply type as request", "\x02\x00\x00\x00\x02{}", matchlock.MsgStderr, "ExecResult does not start a request"},
		{"truncated frame", "\x01\x00\x00\x00\x64{\"comm", 0, ""},
		{"truncated header", "\x01\x00", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.dial(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			_ = c.(*net.UnixConn).CloseWrite()
			typ, text := readReply(t, c)
			if typ != tc.wantType || !strings.Contains(text, tc.wantText) {
				t.Errorf("reply %d %q, want %d containing %q", typ, text, tc.wantType, tc.wantText)
			}
			rest, err := io.ReadAll(c)
			if tc.send[0] == matchlock.MsgExecPipe {
				// Stderr, then Exit(1).
				if want := "\x0a\x00\x00\x00\x04\x00\x00\x00\x01"; string(rest) == want {
					rest = nil
				}
			}
			if err != nil || len(rest) != 0 {
				t.Errorf("after the reply: %q, %v; want the connection closed", rest, err)
			}
			resp, err := e.cl.Exec(context.Background(), matchlock.ExecRequest{Command: "echo still serving"})
			if err != nil || string(resp.Stdout) != "still serving\n" {
				t.Errorf("next request: %+v, %v", resp, err)
			}
		})
	}
}

// readReply reads the first frame, if any, and the text it carries.
func readReply(t *testing.T, c net.Conn) (uint8, string) {
	t.Helper()
	typ, p, err := matchlock.ReadFrame(c, 1<<20)
	if err == io.EOF {
		return 0, ""
	}
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	switch typ {
	case matchlock.MsgExecResult:
		var r matchlock.ExecResponse
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		return typ, r.Error
	case matchlock.MsgFileResult:
		var r matchlock.FileResponse
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		return typ, r.Error
	}
	return typ, string(p)
}

// TestStalledHost: a host that never reads the output is disconnected
// after StallTimeout, its command is killed, and others are served
// meanwhile.
func TestStalledHost(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, func(o *matchlock.Options) {
		o.StallTimeout = 50 * time.Millisecond
		o.TermGrace = 50 * time.Millisecond
	})
	c, err := e.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := json.Marshal(matchlock.ExecRequest{Command: "exec yes stalled-host-marker"})
	if _, err := c.Write(matchlock.AppendFrame(nil, matchlock.MsgExecStream, req)); err != nil {
		t.Fatal(err)
	}
	for len(e.agent.Processes.List()) == 0 {
		time.Sleep(time.Millisecond)
	}
	resp, err := e.cl.Exec(context.Background(), matchlock.ExecRequest{Command: "echo other"})
	if err != nil || string(resp.Stdout) != "other\n" {
		t.Errorf("another host while one stalls: %+v, %v", resp, err)
	}
	for len(e.agent.Processes.List()) != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	// The connection was closed: what is buffered ends, it does not go on.
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Errorf("draining the stalled connection: %d bytes, %v", n, err)
	}
}

// TestConcurrentSendersDoNotInterleave is in writer_test.go (internal).

var _ = bytes.MinRead

// TestHostHangsUp: a host that goes away mid-command gets its command
// ended — SIGTERM, then SIGKILL after TermGrace for one that ignores
// TERM — as matchlock's agent does.
func TestHostHangsUp(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, func(o *matchlock.Options) { o.TermGrace = 50 * time.Millisecond })
	for _, cmd := range []string{"echo started; exec sleep 1000", "trap '' TERM; echo started; sleep 1000 & wait; wait"} {
		ctx, cancel := context.WithCancel(context.Background())
		out := &testutil.LockedBuffer{}
		done := make(chan error, 1)
		go func() {
			_, err := e.cl.ExecStream(ctx, matchlock.ExecRequest{Command: cmd}, out, nil)
			done <- err
		}()
		out.Wait(t, "started")
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("ExecStream canceled: %v", err)
		}
		for len(e.agent.Processes.List()) != 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestSilentPeer: a peer that connects and sends nothing is disconnected
// after HeaderTimeout rather than held forever.
func TestSilentPeer(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, func(o *matchlock.Options) { o.HeaderTimeout = 20 * time.Millisecond })
	c, err := e.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("a silent peer: read %d, %v; want the connection closed", n, err)
	}
}
