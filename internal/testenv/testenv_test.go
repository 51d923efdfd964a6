package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/internal/testenv"
)

// TestMissing runs a test that calls Missing in a child, with and without
// GUESTRPC_E2E=1: a skip outside the full suite, a failure inside it.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		testenv.Missing(t, "a %s", "widget")
		return
	}
	for _, tt := range []struct {
		e2e, want string
		fail      bool
	}{
		{"", "--- SKIP: TestMissing", false},
		{"0", "--- SKIP: TestMissing", false},
		{"1", "--- FAIL: TestMissing", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "GUESTRPC_E2E="+tt.e2e)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tt.fail || !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "a widget") {
			t.Errorf("GUESTRPC_E2E=%q: err %v, output:\n%s\nwant %q naming a widget", tt.e2e, err, out, tt.want)
		}
	}
}
