package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
)

// TestVMRun boots real QEMU guests (skipped without the lab, required
// under GUESTRPC_E2E=1): `vm run -- uname -a` prints the guest's kernel,
// --files reaches the guest, the command's status is the CLI's, and no
// state directory outlives the run.
func TestVMRun(t *testing.T) {
	a := qemu.Require(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "greeting"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		wantCode   int
		wantPrefix string
		wantSubstr string
	}{
		{[]string{"vm", "run", "--", "uname", "-a"}, 0, "Linux ", a.Release},
		{[]string{"vm", "run", "--accel", "tcg", "--files", files, "--", "sh", "-c", "cat /greeting; exit 3"}, 3, "hello from the host\n", ""},
	} {
		code, stdout, stderr := cli(t, "", tc.args...)
		if code != tc.wantCode || !strings.HasPrefix(stdout, tc.wantPrefix) || !strings.Contains(stdout, tc.wantSubstr) {
			t.Errorf("%q: status %d, stdout %q (stderr %q); want status %d, stdout starting %q containing %q",
				tc.args, code, stdout, stderr, tc.wantCode, tc.wantPrefix, tc.wantSubstr)
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "guestrpc-vm-*"))
	if len(left) > 0 {
		t.Errorf("state directories left behind: %q", left)
	}
}

func TestVMUsage(t *testing.T) {
	for _, args := range [][]string{{"vm"}, {"vm", "start"}, {"vm", "run", "--no-such-flag"}} {
		if code, _, _ := cli(t, "", args...); code != exitUsage {
			t.Errorf("%q: status %d, want %d", args, code, exitUsage)
		}
	}
	if code, stdout, _ := cli(t, "", "help", "vm"); code != 0 || !strings.Contains(stdout, "guestrpc vm run") {
		t.Errorf("help vm: status %d, %q", code, stdout)
	}
}
