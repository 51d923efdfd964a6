package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm"
)

func TestArgsGolden(t *testing.T) {
	cfg := Config{
		Config: vmm.Config{Kernel: "/k/vmlinuz", Initrd: "/k/initramfs.cpio", Cmdline: "guestrpc.matchlock=1",
			StateDir: "/run/vm0", MemoryMiB: 256, Ports: []string{"raw"}, VsockCID: 7},
		Accel: "tcg", VMPort: true,
	}
	args, err := Args(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, "\n") + "\n"
	path := filepath.Join("testdata", "qemu.args")
	if os.Getenv("GUESTRPC_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("qemu args (-want +got):\n%s", diff)
	}
	cfg.StateDir = ""
	if _, err := Args(cfg); !errors.Is(err, vmm.ErrConfig) {
		t.Errorf("no StateDir: %v, want vmm.ErrConfig", err)
	}
}

func TestAddTree(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		path string
		perm os.FileMode
	}{{"etc", 0o755}, {"etc/app", 0o750}} {
		must(os.Mkdir(filepath.Join(dir, d.path), d.perm))
		must(os.Chmod(filepath.Join(dir, d.path), d.perm)) // whatever the umask
	}
	must(os.WriteFile(filepath.Join(dir, "etc", "app", "conf"), []byte("x=1\n"), 0o600))
	must(os.Symlink("app/conf", filepath.Join(dir, "etc", "link")))
	var buf bytes.Buffer
	c := NewCPIO(&buf)
	must(AddTree(c, dir))
	must(c.Close())
	want := []cpioEntry{
		{"etc", 0o40755, ""},
		{"etc/app", 0o40750, ""},
		{"etc/app/conf", 0o100600, "x=1\n"},
		{"etc/link", 0o120777, "app/conf"},
	}
	if diff := cmp.Diff(want, parseNewc(t, buf.Bytes())); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
}

// TestBoot boots the lab's guest with an extra file, runs a command
// through the returned client, and checks the state directory's life:
// the state file while running, Remove refused until Stop, gone after.
func TestBoot(t *testing.T) {
	requireLab(t)
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, c, err := Boot(ctx, Config{Accel: "tcg", Lifetime: 5 * time.Minute}, Guest{Files: files}, rpc.ClientOptions{Name: "vmm-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Stop(); _ = m.Remove() }()
	var out bytes.Buffer
	if _, err := process.NewClient(c).Run(ctx, process.Spec{Path: "/bin/cat", Args: []string{"/hello"}}, nil, &out, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if out.String() != "from the host\n" {
		t.Errorf("guest /hello = %q", out.String())
	}
	other, err := FromState(m.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	if !other.IsRunning() || other.State().PID != m.State().PID {
		t.Errorf("FromState: running %v pid %d, want running pid %d", other.IsRunning(), other.State().PID, m.State().PID)
	}
	if err := other.Remove(); !errors.Is(err, ErrRunning) {
		t.Errorf("Remove while running: %v, want ErrRunning", err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if m.IsRunning() || other.IsRunning() {
		t.Error("still running after Stop")
	}
	if err := other.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.StateDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir after Remove: %v", err)
	}
}
