package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guestrpc/guestrpc/vmm"
)

// fakeQEMU is a "QEMU" that prints a console line and sleeps: Start,
// the state file, Lifetime, Stop and Remove without a lab.
func fakeQEMU(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho booting\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMachineLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
	}{{"stopped", 0}, {"lifetime", 50 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "vm")
			lines := make(chan string, 1)
			cfg := Config{Config: vmm.Config{Kernel: "k", Initrd: "i", StateDir: dir}, QEMU: fakeQEMU(t), Accel: "tcg", Lifetime: tc.lifetime,
				OnConsole: func(l string) { lines <- l }}
			m, err := Start(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = m.Stop() }()
			st, err := vmm.ReadState(dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m.State(), st); diff != "" || st.Args[0] != cfg.QEMU || st.PID <= 0 {
				t.Errorf("state file (-Machine +file):\n%s args %q pid %d", diff, st.Args, st.PID)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if tc.lifetime == 0 {
				select { // the console is read before the kill
				case <-lines:
				case <-ctx.Done():
					t.Fatal("no console line")
				}
				if m.Console() != "booting\n" {
					t.Errorf("console %q", m.Console())
				}
				if err := m.Remove(); !errors.Is(err, ErrRunning) {
					t.Errorf("Remove while running: %v, want ErrRunning", err)
				}
				if err := m.Stop(); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Wait(ctx); err == nil || ctx.Err() != nil {
				t.Fatalf("Wait: %v (ctx %v), want the kill's exit error", err, ctx.Err())
			}
			if m.IsRunning() {
				t.Error("running after exit")
			}
			if err := m.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state dir after Remove: %v", err)
			}
		})
	}
}
