package qemu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm"
	vq "github.com/guestrpc/guestrpc/vmm/qemu"
)

// PortName is the virtio-console port the guest agent serves on.
const PortName = vmm.AgentPort

// Config describes one guest.
type Config struct {
	// VMPort turns on QEMU's VMware backdoor emulation (vmport=on).
	VMPort bool
	// MemoryMiB is the guest's RAM (default 512).
	MemoryMiB int
	// Lifetime is a hard limit: QEMU is killed after it (default 10m).
	Lifetime time.Duration
	// Programs are extra guest binaries: guest path → Go package path
	// relative to the module root (e.g. "./internal/e2e/vsockping").
	Programs map[string]string
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// ExtraPorts are more virtio-console ports, by name; VM.PortSocket
	// gives each one's host socket. Raw-throughput measurements use them.
	ExtraPorts []string
}

// VM is a running guest.
type VM struct {
	*vq.Machine
	Sock    string    // host end of the agent's virtio-console port
	Started time.Time // when QEMU was launched
}

// Require returns the lab's assets or, when they are missing, skips the
// test — or fails it when GUESTRPC_E2E=1 (make test, CI), where the lab
// is installed on demand and required.
func Require(t testing.TB) *vq.Assets {
	t.Helper()
	required := os.Getenv("GUESTRPC_E2E") == "1"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	a, err := vq.Ensure(ctx, required, t.Logf)
	if err != nil {
		if required {
			t.Fatalf("QEMU lab required (GUESTRPC_E2E=1) but unavailable: %v", err)
		}
		t.Skipf("skipping QEMU end-to-end test: %v", err)
	}
	return a
}

// accel is TCG unless GUESTRPC_ACCEL says otherwise (e.g. "kvm"): TCG
// behaves the same on every machine, while nested KVM is often missing or
// broken (seen: a guest hanging in early boot under nested KVM).
func accel() string {
	if a := os.Getenv("GUESTRPC_ACCEL"); a != "" {
		return a
	}
	return "tcg"
}

// Start builds the guest (init, programs, modules, busybox) into an
// initramfs and boots it. The VM is killed and its files removed when the
// test ends.
func Start(t testing.TB, cfg Config) *VM {
	t.Helper()
	a := Require(t)
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 10 * time.Minute
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := vq.BuildInitramfs(ctx, a, vq.Guest{Programs: cfg.Programs}, initrd, dir); err != nil {
		t.Fatal(err)
	}
	qc := vq.Config{
		Config: vmm.Config{Kernel: a.Kernel, Initrd: initrd, Cmdline: cfg.Cmdline, MemoryMiB: cfg.MemoryMiB,
			StateDir: dir, Ports: cfg.ExtraPorts},
		QEMU: a.QEMU, Accel: accel(), VMPort: cfg.VMPort, Lifetime: cfg.Lifetime,
		OnConsole: func(line string) { t.Logf("guest: %s", line) },
	}
	m, err := vq.Start(ctx, qc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("qemu: %q", m.State().Args)
	// Stop waits for the console to be read to the end, so no t.Logf
	// runs after the test.
	t.Cleanup(func() { _ = m.Stop() })
	return &VM{Machine: m, Sock: m.AgentSocket(), Started: m.State().Started}
}

// Kill stops QEMU (if running) and waits for it to exit.
func (vm *VM) Kill() { _ = vm.Stop() }

// Dial connects to the agent over the virtio-console port and completes
// the HELLO handshake. While the guest boots the handshake waits; ctx
// bounds it.
func (vm *VM) Dial(ctx context.Context) (*rpc.Client, error) {
	return vm.Machine.Dial(ctx, rpc.ClientOptions{Name: "e2e"})
}

// Ready dials the agent, failing the test if it does not answer within
// two minutes, and logs the time from launch to the first reply.
func (vm *VM) Ready(t testing.TB) *rpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := vm.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		t.Fatalf("first ping: %v", err)
	}
	t.Logf("boot to ready: %v (accel %s)", time.Since(vm.Started).Round(time.Millisecond), accel())
	t.Cleanup(func() { c.Close() })
	return c
}
