package matchlock_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is an agent serving matchlock's protocol on a unix socket.
type env struct {
	dir   string // the files root, where tests put their files
	sock  string
	cl    *matchlock.Client
	agent *agent.Agent
}

func newEnv(t *testing.T, policy rpc.Policy, tune func(*matchlock.Options)) *env {
	t.Helper()
	return newEnvRoot(t, "", policy, tune)
}

// newEnvRoot is newEnv with the files root at root ("" for a fresh
// temporary directory).
func newEnvRoot(t *testing.T, root string, policy rpc.Policy, tune func(*matchlock.Options)) *env {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	e := &env{dir: root, sock: filepath.Join(t.TempDir(), "ml.sock")}
	a, err := agent.New(agent.Config{Policy: policy, Files: files.Options{Root: e.dir}})
	if err != nil {
		t.Fatal(err)
	}
	e.agent = a
	opts := matchlock.Options{Server: a.Server}
	if tune != nil {
		tune(&opts)
	}
	srv, err := matchlock.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = a.Shutdown(context.Background())
		_ = a.Close()
	})
	e.cl = matchlock.NewClient(e.dial, matchlock.ClientOptions{})
	return e
}

func (e *env) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", e.sock)
}

func TestExec(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		req  matchlock.ExecRequest
		want matchlock.ExecResponse
	}{
		{"output and code", matchlock.ExecRequest{Command: "echo out; echo err >&2; exit 3"},
			matchlock.ExecResponse{ExitCode: 3, Stdout: []byte("out\n"), Stderr: []byte("err\n")}},
		{"env and dir", matchlock.ExecRequest{Command: `echo "$A$B"; pwd`, Env: map[string]string{"A": "1", "B": "2"}, WorkingDir: e.dir},
			matchlock.ExecResponse{Stdout: []byte("12\n" + e.dir + "\n")}},
		{"stdin", matchlock.ExecRequest{Command: "tr a-z A-Z", Stdin: []byte("hi")},
			matchlock.ExecResponse{Stdout: []byte("HI")}},
		{"killed by a signal", matchlock.ExecRequest{Command: "kill -9 $$"},
			matchlock.ExecResponse{ExitCode: -1}},
		{"user by uid", matchlock.ExecRequest{Command: "id -u", User: "0"},
			matchlock.ExecResponse{Stdout: []byte("0\n")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.User != "" && os.Getuid() != 0 {
				tc.req.User = ""
				tc.want.Stdout = []byte(strings.TrimSpace(string(must(exec("id -u")))) + "\n")
			}
			got, err := e.cl.Exec(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Errorf("Exec (-want +got):\n%s", d)
			}
		})
	}
	_, err := e.cl.Exec(ctx, matchlock.ExecRequest{Command: "true", User: "no-such-user-here"})
	if !errors.Is(err, matchlock.ErrRemote) {
		t.Errorf("Exec as a missing user: %v, want a RemoteError", err)
	}
}

func TestExecStream(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	var out, errOut bytes.Buffer
	resp, err := e.cl.ExecStream(context.Background(),
		matchlock.ExecRequest{Command: "seq 1 20000; echo bad >&2; exit 4"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	want := string(must(exec("seq 1 20000")))
	if out.String() != want || errOut.String() != "bad\n" || resp.ExitCode != 4 || resp.Stdout != nil {
		t.Errorf("ExecStream: %d bytes of stdout (want %d), stderr %q, %+v", out.Len(), len(want), errOut.String(), resp)
	}
}

func TestExecPipe(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	var out, errOut bytes.Buffer
	s, err := e.cl.ExecPipe(context.Background(), matchlock.ExecRequest{Command: "cat; echo done >&2; exit 7"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []string{"one ", "two ", "three"} {
		if _, err := s.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	code, err := s.Wait()
	if err != nil || code != 7 || out.String() != "one two three" || errOut.String() != "done\n" {
		t.Errorf("ExecPipe: code %d, %v, stdout %q, stderr %q", code, err, out.String(), errOut.String())
	}

	// A signal ends a command that would run forever.
	s, err = e.cl.ExecPipe(context.Background(), matchlock.ExecRequest{Command: "exec sleep 1000"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Signal(15); err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(); err != nil || code != -1 {
		t.Errorf("ExecPipe after SIGTERM: code %d, %v; want -1", code, err)
	}
}

func TestExecTTY(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	out := &testutil.LockedBuffer{}
	s, err := e.cl.ExecTTY(context.Background(), matchlock.ExecTTYRequest{
		Command: `stty size; read line; stty size; echo "got $line"; exit 5`, Rows: 30, Cols: 100}, out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out.Wait(t, "30 100")
	if err := s.Resize(matchlock.WindowSize{Rows: 50, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	// The resize is applied before the next line is read: both frames
	// are handled in order by the agent.
	if _, err := s.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	code, err := s.Wait()
	if err != nil || code != 5 {
		t.Fatalf("ExecTTY: code %d, %v", code, err)
	}
	got := out.String()
	for _, want := range []string{"30 100\r\n", "50 132\r\n", "got hello\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("ExecTTY output %q lacks %q", got, want)
		}
	}
}
