package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/power"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startAgent serves the full agent on a unix socket for the CLI to reach.
func startAgent(t *testing.T) string {
	t.Helper()
	return startAgentConfig(t, agent.Config{Name: "cli-test"})
}

// startAgentConfig serves an agent made with cfg. A power operation never
// reaches this machine: without cfg.Power it fails the test.
func startAgentConfig(t *testing.T, cfg agent.Config) string {
	t.Helper()
	if cfg.Power == nil {
		cfg.Power = &power.Options{Act: func(op power.Op) error {
			t.Errorf("power.%s reached the test agent", op)
			return nil
		}}
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done; l.Close(); a.Close() })
	return "unix:" + sock
}

func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	target := startAgent(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.txt")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub", "empty"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("leaf"), 0o640)
	guestDir := t.TempDir()

	for _, tc := range []struct {
		name     string
		stdin    string
		args     []string
		code     int
		stdout   string // substring
		stderrIs string // substring
	}{
		{"ping", "", []string{"--connect", target, "ping", "-n", "5"}, 0, "5 pings to cli-test", ""},
		{"info", "", []string{"--connect", target, "info"}, 0, `"agent_version"`, ""},
		{"exec exit code becomes ours", "", []string{"--connect", target, "exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7"}, 7, "out\n", "err\n"},
		{"exec killed by a signal is 128+n", "", []string{"--connect", target, "exec", "--", "sh", "-c", "kill -TERM $$"}, 128 + 15, "", ""},
		{"exec stdin", "piped\n", []string{"--connect", target, "exec", "--", "cat"}, 0, "piped\n", ""},
		{"exec env and dir", "", []string{"--connect", target, "exec", "-e", "K=V", "-w", "/", "--", "sh", "-c", "echo $K $(pwd)"}, 0, "V /\n", ""},
		{"cp to guest", "", []string{"--connect", target, "cp", "-q", src, "guest:" + filepath.Join(guestDir, "in.txt")}, 0, "", ""},
		{"cp from guest to stdout", "", []string{"--connect", target, "cp", "-q", "guest:" + filepath.Join(guestDir, "in.txt"), "-"}, 0, "from the host\n", ""},
		{"cp stdin to guest", "typed\n", []string{"--connect", target, "cp", "-q", "-", "guest:" + filepath.Join(guestDir, "typed.txt")}, 0, "", ""},
		{"cp -r to guest", "", []string{"--connect", target, "cp", "-q", "-r", tree, "guest:" + filepath.Join(guestDir, "tree")}, 0, "", ""},
		{"cp -r back", "", []string{"--connect", target, "cp", "-q", "-r", "guest:" + filepath.Join(guestDir, "tree"), filepath.Join(dir, "back")}, 0, "", ""},
		{"cp missing", "", []string{"--connect", target, "cp", "-q", "guest:" + filepath.Join(guestDir, "nope"), filepath.Join(dir, "x")}, exitNotFound, "", "nope"},
		{"unknown command", "", []string{"--connect", target, "frobnicate"}, 2, "", "unknown command"},
		{"bad target", "", []string{"--connect", "bogus:x", "ping"}, exitUnreachable, "", "bogus"},
		{"no target", "", []string{"ping"}, 2, "", "--connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GUESTRPC_CONNECT", "")
			code, out, errOut := cli(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderrIs) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q", code, out, errOut, tc.code, tc.stdout, tc.stderrIs)
			}
		})
	}
	for path, want := range map[string]string{
		filepath.Join(guestDir, "in.txt"):           "from the host\n",
		filepath.Join(guestDir, "typed.txt"):        "typed\n",
		filepath.Join(guestDir, "tree", "sub", "f"): "leaf",
		filepath.Join(dir, "back", "sub", "f"):      "leaf",
	} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", path, b, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "back", "sub", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty directory did not round-trip: %v", err)
	}
}
