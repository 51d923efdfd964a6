package prokshy_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/compat/prokshy"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/sysinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runOpts: every command in these tests prints something, so the wait
// for its first byte may be long (a loaded machine, the race detector)
// without slowing the tests; the reply ends after a second of quiet.
func runOpts() prokshy.RunOptions { return prokshy.RunOptions{Idle: time.Second, First: time.Minute} }

// commands writes command.d with executables and returns its path.
func commands(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"upper":  "#!/bin/sh\ntr a-z A-Z\n",
		"show":   "#!/bin/sh\nprintf '[%s]' \"$(cat)\"\n",
		"big":    "#!/bin/sh\nhead -c 16777216 /dev/zero\n",
		"noexec": "#!/bin/sh\necho must not run\n",
	} {
		mode := os.FileMode(0o755)
		if name == "noexec" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type env struct {
	host net.Conn
	srv  *prokshy.Server
	done chan error
}

// start serves the guest side on one end of a socket pair.
func start(t *testing.T, tune func(*prokshy.Options)) *env {
	t.Helper()
	a, err := agent.New(agent.Config{})
	if err != nil {
		t.Fatal(err)
	}
	opts := prokshy.Options{Server: a.Server, Processes: a.Processes, Dir: commands(t)}
	if tune != nil {
		tune(&opts)
	}
	srv, err := prokshy.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	guest, host := testutil.SocketPair(t)
	e := &env{host: host, srv: srv, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.done <- srv.Serve(ctx, guest) }()
	t.Cleanup(func() {
		cancel()
		host.Close()
		<-e.done
		_ = a.Shutdown(context.Background())
		_ = a.Close()
	})
	return e
}

func (e *env) run(t *testing.T, cmd, arg string) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := prokshy.Run(context.Background(), e.host, cmd, arg, &out, runOpts()); err != nil {
		t.Fatalf("Run %s: %v", cmd, err)
	}
	return out.String()
}

func TestCommands(t *testing.T) {
	e := start(t, nil)
	if err := e.srv.Register("hello", func(ctx context.Context, arg []byte, out io.Writer) error {
		_, err := io.WriteString(out, "hello, "+string(arg))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ cmd, arg, want string }{
		{"upper", "argument on stdin", "ARGUMENT ON STDIN"},
		{"show", "", "[]"},
		{"show", "  blanks trimmed  ", "[blanks trimmed]"},
		{"hello", "world", "hello, world"},
	}
	for _, tc := range tests {
		if got := e.run(t, tc.cmd, tc.arg); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.cmd, tc.arg, got, tc.want)
		}
	}
}

// TestIgnored: lines that are not a valid, existing, executable command
// are ignored — each is one line, read as a command — and the next
// command is served as if they had not come.
func TestIgnored(t *testing.T) {
	e := start(t, func(o *prokshy.Options) { o.MaxLine = 64 })
	junk := []string{"bad name", "../upper", "adir/../upper", "a/b", ".", "..", "adir", "missing", "noexec", "\x00\x01 not a hello",
		strings.Repeat("u", 100), "upp€r", ""}
	if _, err := io.WriteString(e.host, strings.Join(junk, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := e.run(t, "upper", "end"); got != "END" {
		t.Errorf("after the ignored lines: %q, want END", got)
	}
	// Blanks around the name are stripped, as read(1) strips them.
	if _, err := io.WriteString(e.host, " \tupper \nblanks\n"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	if _, err := io.ReadFull(e.host, got); err != nil || string(got) != "BLANKS" {
		t.Errorf("a name among blanks: %q, %v", got, err)
	}
}

// TestArgTimeout: a command whose argument line does not come in time
// runs with an empty argument; the late line is dropped, never run.
func TestArgTimeout(t *testing.T) {
	e := start(t, func(o *prokshy.Options) { o.ArgTimeout = 20 * time.Millisecond })
	ran := make(chan struct{}, 1)
	if err := e.srv.Register("late", func(context.Context, []byte, io.Writer) error { ran <- struct{}{}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(e.host, "show\n"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2)
	if _, err := io.ReadFull(e.host, got); err != nil || string(got) != "[]" {
		t.Fatalf("show without its argument: %q, %v", got, err)
	}
	if _, err := io.WriteString(e.host, "late\n"); err != nil {
		t.Fatal(err)
	}
	if got := e.run(t, "show", "next"); got != "[next]" {
		t.Errorf("next command: %q", got)
	}
	select {
	case <-ran:
		t.Error("the late argument line ran as a command")
	default:
	}
}

func TestBigOutput(t *testing.T) {
	e := start(t, nil)
	var n countWriter
	got, err := prokshy.Run(context.Background(), e.host, "big", "", &n, runOpts())
	if err != nil || got != 16<<20 || n != 16<<20 {
		t.Errorf("16 MiB of output: %d (%d written), %v", got, n, err)
	}
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// TestNativeOnTheSamePort: a HELLO on the port starts a native session.
func TestNativeOnTheSamePort(t *testing.T) {
	e := start(t, nil)
	if got := e.run(t, "upper", "first"); got != "FIRST" {
		t.Fatalf("prokshy first: %q", got)
	}
	c, err := testutilClient(e.host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Ping(context.Background()); err != nil {
		t.Errorf("native ping on the prokshy port: %v", err)
	}
	if info, err := sysinfo.NewClient(c).Info(context.Background()); err != nil || len(info.Methods) == 0 {
		t.Errorf("native sys.info: %+v, %v", info, err)
	}
}

func TestClientRefuses(t *testing.T) {
	for _, tc := range []struct{ cmd, arg string }{{"bad name", ""}, {"", ""}, {"ok", "two\nlines"}} {
		if _, err := prokshy.Run(context.Background(), nil, tc.cmd, tc.arg, io.Discard, prokshy.RunOptions{}); err == nil {
			t.Errorf("Run(%q, %q): no error", tc.cmd, tc.arg)
		}
	}
}
