package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
)

// requirePowerOff waits for QEMU to exit and checks that the guest powered
// itself off: exit status 0 (a kernel panic exits 1 through pvpanic, a
// kill by the harness is a signal), init's line just before reboot(2),
// the kernel's "Power down", and no panic text on the console.
func requirePowerOff(t *testing.T, vm *qemu.VM) {
	t.Helper()
	if err := vm.Wait(ctxFor(t, time.Minute)); err != nil {
		t.Fatalf("QEMU did not exit with status 0 after the power-off: %v; console:\n%s", err, vm.Console())
	}
	con := vm.Console()
	if !strings.Contains(con, `msg="calling reboot(2)" op=halt`) {
		t.Errorf("init did not log its reboot(2) call; console:\n%s", con)
	}
	if !strings.Contains(con, "reboot: Power down") {
		t.Errorf("the kernel did not log its power-down; console:\n%s", con)
	}
	for _, bad := range []string{"Kernel panic", "panic: ", "Attempted to kill init"} {
		if strings.Contains(con, bad) {
			t.Errorf("console shows %q: the guest crashed; console:\n%s", bad, con)
		}
	}
}
