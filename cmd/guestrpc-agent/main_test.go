package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(runAsAgent) == "1" {
		main() // the test binary re-executed as guestrpc-agent; exits
	}
	goleak.VerifyTestMain(m)
}

// TestStartupRefusals: the agent refuses to start on a target it would
// serve unsafely, and says why.
func TestStartupRefusals(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "a.sock")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"tcp without a token", []string{"--listen", "tcp:127.0.0.1:0"}, 1, "needs a token"},
		{"tcp on every interface", []string{"--token-file", tok, "--listen", "tcp:0.0.0.0:0"}, 1, "--listen-public"},
		{"insecure does not make tcp public", []string{"--insecure", "--listen", "tcp:0.0.0.0:0"}, 1, "--listen-public"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "none"), "--listen", "tcp:127.0.0.1:0"}, 2, "--token-file"},
		{"bad method glob", []string{"--allow-rpcs", "file.[", "--listen", "unix:" + sock}, 2, "file.["},
		{"bad cid", []string{"--allow-cid", "host", "--listen", "unix:" + sock}, 2, "--allow-cid"},
		{"unknown user", []string{"--allow-uid", "no-such-user-guestrpc", "--listen", "unix:" + sock}, 2, "--allow-uid"},
		{"bad target option", []string{"--listen", "unix:" + sock + ",cid=3"}, 1, "takes no cid="},
		{"token on the command line is not a flag", []string{"--token", "x", "--listen", "unix:" + sock}, 2, "not defined"},
		{"negative gc percent", []string{"--gc-percent", "-5", "--listen", "unix:" + sock}, 2, "--gc-percent -5"},
		{"negative memory limit", []string{"--memory-limit", "-1", "--listen", "unix:" + sock}, 2, "--memory-limit -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			code := run(context.Background(), tc.args, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr containing %q", code, errOut.String(), tc.code, tc.stderr)
			}
		})
	}
}

// TestInsecureWarns: --insecure serves, and says at startup that it
// admits everyone.
func TestInsecureWarns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: start, warn, shut down
	var errOut bytes.Buffer
	code := run(ctx, []string{"--insecure", "--listen", "tcp:127.0.0.1:0"}, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), "--insecure") || !strings.Contains(errOut.String(), "level=WARN") {
		t.Fatalf("exit %d, stderr %q; want exit 0 and a warning about --insecure", code, errOut.String())
	}
}

// TestTrustVIXFlag: VIX guest operations are refused unless the flag
// asks to trust the VMX.
func TestTrustVIXFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--vmware"}, false},
		{[]string{"--vmware", "--vmware-trust-vix"}, true},
	} {
		var errOut bytes.Buffer
		o, code := parse(tc.args, &errOut)
		if o == nil || code != 0 || o.trustVIX != tc.want {
			t.Errorf("%q: trust %v (exit %d, %q), want %v", tc.args, o != nil && o.trustVIX, code, errOut.String(), tc.want)
		}
	}
}
