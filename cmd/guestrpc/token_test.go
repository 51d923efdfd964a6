package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/transport"
)

// TestCLIToken: the CLI presents the token from --token-file or
// GUESTRPC_TOKEN_FILE to an agent on TCP.
func TestCLIToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	wrong := filepath.Join(dir, "wrong")
	open := filepath.Join(dir, "open")
	for path, tok := range map[string]string{good: "tok-3141\n", wrong: "tok-2718\n", open: "tok-3141"} {
		mode := os.FileMode(0o600)
		if path == open {
			mode = 0o644
		}
		if err := os.WriteFile(path, []byte(tok), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode)
	}
	a, err := agent.New(agent.Config{Name: "cli-token"})
	if err != nil {
		t.Fatal(err)
	}
	lc := transport.ListenConfig{Token: []byte("tok-3141")}
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lc.Listen(ctx, "tcp:127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	target := "tcp:" + l.Addr().String()

	for _, tc := range []struct {
		name   string
		env    string
		args   []string
		code   int
		stderr string
	}{
		{"no token", "", nil, exitDenied, "Unauthenticated"},
		{"wrong token", "", []string{"--token-file", wrong}, exitDenied, "Unauthenticated"},
		{"--token-file", "", []string{"--token-file", good}, 0, ""},
		{"GUESTRPC_TOKEN_FILE", good, nil, 0, ""},
		{"--token-file wins over the environment", wrong, []string{"--token-file", good}, 0, ""},
		{"a token file every user can read", "", []string{"--token-file", open}, 2, "any user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GUESTRPC_CONNECT", "")
			t.Setenv("GUESTRPC_TOKEN_FILE", tc.env)
			args := append(append([]string{"--connect", target}, tc.args...), "ping", "-n", "1")
			code, _, errOut := cli(t, "", args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr containing %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}
