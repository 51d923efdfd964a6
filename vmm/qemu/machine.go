package qemu

import (
	"bufio"
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
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm"
)

// maxConsole caps the console output a Machine keeps (the newest part).
const maxConsole = 1 << 20

// ErrRunning reports Remove on a VM whose QEMU still runs.
var ErrRunning = errors.New("qemu: VM still running")

// Machine is a QEMU process and its state directory.
type Machine struct {
	state vmm.State

	// Set only for a Machine this process started.
	cmd     *exec.Cmd
	exited  chan struct{} // closed when QEMU has exited
	exitErr error
	logDone chan struct{}
	life    *time.Timer

	mu      sync.Mutex
	console []byte
}

// Start launches QEMU for cfg (Kernel and Initrd must exist), creating
// StateDir and writing the state file there, and returns at once; Dial
// waits for the agent. ctx bounds only the launch.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	if cfg.QEMU == "" {
		p, err := exec.LookPath("qemu-system-x86_64")
		if err != nil {
			return nil, fmt.Errorf("%w: qemu-system-x86_64: %w", ErrMissing, err)
		}
		cfg.QEMU = p
	}
	cfg.Accel = cfg.accel()
	args, err := Args(cfg)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("qemu: state dir: %w", err)
	}
	m := &Machine{exited: make(chan struct{}), logDone: make(chan struct{})}
	m.cmd = exec.Command(cfg.QEMU, args...)
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	m.cmd.Stderr = m.cmd.Stdout
	m.cmd.SysProcAttr = qemuProcAttr()
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", cfg.QEMU, err)
	}
	m.state = vmm.State{Hypervisor: "qemu", PID: m.cmd.Process.Pid, Args: m.cmd.Args, Started: time.Now(), Config: cfg.Config.WithDefaults()}
	go m.pumpConsole(out, cfg.OnConsole)
	go func() {
		// Wait closes the console pipe: let the pump read it to the end
		// first, so the guest's last lines are in Console.
		<-m.logDone
		m.exitErr = m.cmd.Wait()
		close(m.exited)
	}()
	if cfg.Lifetime > 0 {
		m.life = time.AfterFunc(cfg.Lifetime, func() { _ = m.kill() })
	}
	if err := vmm.WriteState(cfg.StateDir, m.state); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

// FromState finds the VM whose state directory is dir. The Machine it
// returns can IsRunning, Stop and Remove, but has no console and no Wait.
func FromState(dir string) (*Machine, error) {
	s, err := vmm.ReadState(dir)
	if err != nil {
		return nil, err
	}
	if s.Hypervisor != "qemu" || s.PID <= 0 {
		return nil, fmt.Errorf("%w in %s: hypervisor %q, pid %d", vmm.ErrNoState, dir, s.Hypervisor, s.PID)
	}
	return &Machine{state: s}, nil
}

func (m *Machine) pumpConsole(r io.Reader, onLine func(string)) {
	defer close(m.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		m.mu.Lock()
		m.console = append(m.console, line+"\n"...)
		if over := len(m.console) - maxConsole; over > 0 {
			m.console = append(m.console[:0], m.console[over:]...)
		}
		m.mu.Unlock()
		if onLine != nil {
			onLine(line)
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep QEMU unblocked
}

// State returns what the state file records.
func (m *Machine) State() vmm.State { return m.state }

// StateDir is the directory with the sockets and the state file.
func (m *Machine) StateDir() string { return m.state.Config.StateDir }

// AgentSocket is the host end of the agent's virtio-console port; the
// target "virtio:" + AgentSocket() reaches the agent (guestrpc --connect).
func (m *Machine) AgentSocket() string { return m.state.Config.PortSocket(vmm.AgentPort) }

// PortSocket is the host end of the extra virtio-console port name.
func (m *Machine) PortSocket(name string) string { return m.state.Config.PortSocket(name) }

// Console returns the serial console output so far (its last MiB).
func (m *Machine) Console() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.console)
}

// IsRunning reports whether QEMU is still running.
func (m *Machine) IsRunning() bool {
	if m.cmd != nil {
		select {
		case <-m.exited:
			return false
		default:
			return true
		}
	}
	return syscall.Kill(m.state.PID, 0) == nil
}

// Stop kills QEMU's process group, if it runs, and for a Machine this
// process started waits for it to exit.
func (m *Machine) Stop() error {
	if m.life != nil {
		m.life.Stop()
	}
	return m.kill()
}

// kill is Stop without the lifetime timer, which calls it.
func (m *Machine) kill() error {
	if !m.IsRunning() {
		return nil
	}
	if err := syscall.Kill(-m.state.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("qemu: stop pid %d: %w", m.state.PID, err)
	}
	if m.cmd != nil {
		<-m.exited
	}
	return nil
}

// Remove deletes the state directory; the VM must be stopped.
func (m *Machine) Remove() error {
	if m.IsRunning() {
		return fmt.Errorf("%w (pid %d): Stop it first", ErrRunning, m.state.PID)
	}
	if err := os.RemoveAll(m.StateDir()); err != nil {
		return fmt.Errorf("qemu: remove %s: %w", m.StateDir(), err)
	}
	return nil
}

// Wait waits for QEMU to exit on its own and returns its exit error (a
// guest panic is exit status 1). It needs a Machine from Start.
func (m *Machine) Wait(ctx context.Context) error {
	if m.cmd == nil {
		return errors.New("qemu: Wait needs a VM started by this process")
	}
	select {
	case <-m.exited:
		return m.exitErr
	case <-ctx.Done():
		return fmt.Errorf("qemu still running: %w", ctx.Err())
	}
}

// Dial connects to the agent over its virtio-console port and completes
// the handshake. While the guest boots it retries; ctx bounds the wait.
func (m *Machine) Dial(ctx context.Context, opts rpc.ClientOptions) (*rpc.Client, error) {
	sock := m.AgentSocket()
	for {
		ch, err := channel.DialUnix(ctx, sock, channel.StreamOptions{})
		if err == nil {
			c, err := rpc.NewClient(ctx, ch, opts)
			if err == nil {
				return c, nil
			}
			ch.Close()
			return nil, fmt.Errorf("qemu: handshake over %s: %w", sock, err)
		}
		select {
		case <-m.exitedChan():
			return nil, fmt.Errorf("qemu exited before the agent answered (%v); console:\n%s", m.exitErr, lastLines([]byte(m.Console()), 30))
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: dial %s: %w (last error %v)", sock, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exitedChan is closed when QEMU exits; never for a Machine from
// FromState.
func (m *Machine) exitedChan() <-chan struct{} {
	if m.cmd == nil {
		return nil
	}
	return m.exited
}

// stateDirIn makes a fresh state directory under parent ("" for the
// system temp dir).
func stateDirIn(parent string) (string, error) {
	d, err := os.MkdirTemp(parent, "guestrpc-vm-")
	if err != nil {
		return "", fmt.Errorf("qemu: state dir: %w", err)
	}
	return filepath.Clean(d), nil
}
