package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// PortName is the virtio-console port the guest agent serves on.
const PortName = "org.guestrpc.0"

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

// Guest init programs expect these names; the harness and examples/init
// agree on them.
const (
	// ModuleDir holds the kernel modules and a load-order file listing
	// them, one per line, each after its dependencies.
	ModuleDir = "/lib/modules/guestrpc"
	// InitPackage is the init the guest boots.
	InitPackage = "./examples/init"
)

// guestModules are the kernel modules the guest loads.
func guestModules() []string {
	return []string{"virtio_pci", "virtio_console", "vsock", "vmw_vsock_virtio_transport_common", "vsock_loopback", "pvpanic_pci"}
}

// busyboxApplets are linked into /bin for tests that run shell commands.
func busyboxApplets() []string {
	return []string{"sh", "cat", "echo", "sleep", "stty", "test", "true", "false", "ls", "ps", "kill",
		"sha256sum", "head", "dd", "mkdir", "rm", "id", "env", "wc", "tr", "seq", "yes", "pwd", "uname", "sync", "tty", "mount"}
}

// VM is a running guest.
type VM struct {
	Sock    string    // host end of the virtio-console port (QEMU chardev socket)
	Started time.Time // when QEMU was launched
	cmd     *exec.Cmd
	exited  chan struct{} // closed when QEMU has exited
	exitErr error
	logDone chan struct{}

	mu      sync.Mutex
	console bytes.Buffer // the serial console, for tests that inspect it
}

// Require returns the lab's assets or, when they are missing, skips the
// test — or fails it when GUESTRPC_E2E=1 (make test, CI), where the lab
// is installed on demand and required.
func Require(t testing.TB) *Assets {
	t.Helper()
	required := os.Getenv("GUESTRPC_E2E") == "1"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	a, err := Ensure(ctx, required, t.Logf)
	if err != nil {
		if required {
			t.Fatalf("QEMU lab required (GUESTRPC_E2E=1) but unavailable: %v", err)
		}
		t.Skipf("skipping QEMU end-to-end test: %v", err)
	}
	return a
}

// Start builds the guest (init, programs, modules, busybox) into an
// initramfs and boots it. The VM is killed and its files removed when the
// test ends.
func Start(t testing.TB, cfg Config) *VM {
	t.Helper()
	a := Require(t)
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 512
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 10 * time.Minute
	}
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := BuildInitramfs(a, initrd, cfg.Programs, dir); err != nil {
		t.Fatal(err)
	}
	vm := &VM{Sock: filepath.Join(dir, "port0.sock"), exited: make(chan struct{}), logDone: make(chan struct{})}
	vmport := "off"
	if cfg.VMPort {
		vmport = "on"
	}
	args := []string{
		"-machine", "pc,accel=" + accel() + ",vmport=" + vmport,
		"-nodefaults", "-no-reboot", "-display", "none",
		// A kernel panic (once init has loaded pvpanic_pci) ends QEMU
		// with exit status 1, a power-off with 0: Wait tells them apart.
		"-device", "pvpanic-pci", "-action", "panic=exit-failure",
		"-m", fmt.Sprint(cfg.MemoryMiB), "-smp", "2",
		"-kernel", a.Kernel, "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 quiet panic=-1 guestrpc.port=" + PortName + " " + cfg.Cmdline),
		"-serial", "stdio",
		"-device", "virtio-serial",
		"-chardev", "socket,id=c0,path=" + vm.Sock + ",server=on,wait=off",
		"-device", "virtserialport,chardev=c0,name=" + PortName,
	}
	for i, name := range cfg.ExtraPorts {
		id := fmt.Sprintf("x%d", i)
		args = append(args, "-chardev", "socket,id="+id+",path="+vm.PortSocket(name)+",server=on,wait=off",
			"-device", "virtserialport,chardev="+id+",name="+name)
	}
	vm.cmd = exec.Command(a.QEMU, args...)
	vm.cmd.Stdin = nil
	out, err := vm.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	vm.cmd.Stderr = vm.cmd.Stdout
	vm.cmd.SysProcAttr = qemuProcAttr()
	t.Logf("qemu: %s %s", a.QEMU, strings.Join(args, " "))
	vm.Started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("qemu: start: %v", err)
	}
	go vm.pumpConsole(t, out)
	go func() {
		// Wait closes the console pipe: let the pump read it to the end
		// first, so the guest's last lines are in Console.
		<-vm.logDone
		vm.exitErr = vm.cmd.Wait()
		close(vm.exited)
	}()
	life := time.AfterFunc(cfg.Lifetime, func() { _ = vm.cmd.Process.Kill() })
	t.Cleanup(func() {
		life.Stop()
		vm.Kill()
		<-vm.logDone
	})
	return vm
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

func (vm *VM) pumpConsole(t testing.TB, r io.Reader) {
	defer close(vm.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		vm.mu.Lock()
		vm.console.WriteString(line + "\n")
		vm.mu.Unlock()
		t.Logf("guest: %s", line)
	}
}

// PortSocket returns the host socket of the extra port called name.
func (vm *VM) PortSocket(name string) string {
	return filepath.Join(filepath.Dir(vm.Sock), "port-"+name+".sock")
}

// Console returns the serial console output so far.
func (vm *VM) Console() string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.console.String()
}

// Kill stops QEMU (if running) and waits for it to exit.
func (vm *VM) Kill() {
	select {
	case <-vm.exited:
		return
	default:
	}
	_ = syscall.Kill(-vm.cmd.Process.Pid, syscall.SIGKILL)
	<-vm.exited
}

// Wait waits for QEMU to exit on its own.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.exited:
		return vm.exitErr
	case <-ctx.Done():
		return fmt.Errorf("qemu still running: %w", ctx.Err())
	}
}

// Dial connects to the agent over the virtio-console port and completes
// the HELLO handshake. While the guest boots the handshake waits; ctx
// bounds it.
func (vm *VM) Dial(ctx context.Context) (*rpc.Client, error) {
	for {
		ch, err := channel.DialUnix(ctx, vm.Sock, channel.StreamOptions{})
		if err == nil {
			c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{Name: "e2e"})
			if err == nil {
				return c, nil
			}
			ch.Close()
			return nil, fmt.Errorf("qemu: handshake over %s: %w", vm.Sock, err)
		}
		select {
		case <-vm.exited:
			return nil, fmt.Errorf("qemu exited before the agent answered (%v); console:\n%s", vm.exitErr, lastLines([]byte(vm.Console()), 30))
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: dial %s: %w (last error %v)", vm.Sock, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
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

// BuildInitramfs writes the guest's initramfs to path: examples/init as
// /init, the programs, busybox with its applets in /bin, /etc/passwd and
// /etc/group, and the kernel modules with their load order. Binaries are
// built statically into work.
func BuildInitramfs(a *Assets, path string, programs map[string]string, work string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	progs := map[string]string{"/init": InitPackage}
	for k, v := range programs {
		progs[k] = v
	}
	mods, err := ResolveModules(a.Modules, guestModules())
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c := NewCPIO(f)
	for _, d := range []string{"bin", "dev", "etc", "lib", "lib/modules", ModuleDir, "proc", "root", "run", "sys", "tmp", "usr", "usr/bin", "var"} {
		c.Dir(d, 0o755)
	}
	for guestPath, pkg := range progs {
		bin := filepath.Join(work, filepath.Base(guestPath)+".bin")
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("qemu: build %s: %v\n%s", pkg, err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		c.File(guestPath, 0o755, data)
	}
	bb, err := os.ReadFile(a.Busybox)
	if err != nil {
		return err
	}
	c.File("/bin/busybox", 0o755, bb)
	for _, app := range busyboxApplets() {
		c.Symlink("/bin/"+app, "busybox")
	}
	c.File("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	c.File("/etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	var order []string
	for _, m := range mods {
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return err
		}
		c.File(ModuleDir+"/"+m.Name+".ko", 0o644, data)
		order = append(order, m.Name+".ko")
	}
	c.File(ModuleDir+"/load-order", 0o644, []byte(strings.Join(order, "\n")+"\n"))
	if err := c.Close(); err != nil {
		return fmt.Errorf("qemu: write %s: %w", path, err)
	}
	return f.Close()
}

// moduleRoot finds the directory holding go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("qemu: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("qemu: not inside the guestrpc module")
	}
	return filepath.Dir(mod), nil
}
