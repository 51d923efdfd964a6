// Package testenv decides what a test does when something it needs is
// missing from the machine: outside the full suite it skips, naming what
// is missing; under GUESTRPC_E2E=1 (make test, CI), where everything is
// required, it fails instead, so a missing piece never passes as a skip.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Required reports whether the full suite is running (GUESTRPC_E2E=1),
// in which every test must run.
func Required() bool { return os.Getenv("GUESTRPC_E2E") == "1" }

// Missing skips t, or fails it when Required, saying what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("required under GUESTRPC_E2E=1 but missing: %s", msg)
	}
	t.Skipf("missing: %s (GUESTRPC_E2E=1 makes this a failure)", msg)
}
