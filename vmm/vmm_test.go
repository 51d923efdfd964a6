package vmm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sample() Config {
	return Config{Kernel: "/k/vmlinuz", Initrd: "/k/initramfs.cpio", Cmdline: "guestrpc.matchlock=1",
		StateDir: "/run/vm0", MemoryMiB: 256, VsockCID: 7}
}

// golden compares got with testdata/NAME; GUESTRPC_UPDATE_GOLDEN=1
// rewrites the file instead.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("GUESTRPC_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestHyperkitArgsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"hyperkit.args", sample()},
		{"hyperkit-defaults.args", Config{Kernel: "/k/vmlinuz", Initrd: "/k/i.cpio", StateDir: "/s"}},
	} {
		args, err := HyperkitArgs(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		golden(t, tc.name, []byte(strings.Join(args, "\n")+"\n"))
	}
	if got, want := HyperkitTarget(sample()), "hyperkit:/run/vm0:7:5100"; got != want {
		t.Errorf("HyperkitTarget = %q, want %q", got, want)
	}
}

func TestFirecrackerConfigGolden(t *testing.T) {
	b, err := FirecrackerConfig(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "firecracker.json", b)
	if got, want := FirecrackerTarget(sample()), "hybrid:/run/vm0/vsock.sock:5100"; got != want {
		t.Errorf("FirecrackerTarget = %q, want %q", got, want)
	}
}

func TestConfigRefused(t *testing.T) {
	ok := sample()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"no kernel", func(c *Config) { c.Kernel = "" }, ErrConfig},
		{"no initrd", func(c *Config) { c.Initrd = "" }, ErrConfig},
		{"no state dir", func(c *Config) { c.StateDir = "" }, ErrConfig},
		{"reserved cid", func(c *Config) { c.VsockCID = 2 }, ErrConfig},
		{"bad port", func(c *Config) { c.Ports = []string{"a,b"} }, ErrConfig},
		{"agent port twice", func(c *Config) { c.Ports = []string{AgentPort} }, ErrConfig},
		{"ports on hyperkit", func(c *Config) { c.Ports = []string{"raw"} }, ErrUnsupported},
	} {
		c := ok
		tc.edit(&c)
		if _, err := HyperkitArgs(c); !errors.Is(err, tc.want) {
			t.Errorf("%s: HyperkitArgs error %v, want %v", tc.name, err, tc.want)
		}
		if _, err := FirecrackerConfig(c); !errors.Is(err, tc.want) {
			t.Errorf("%s: FirecrackerConfig error %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := State{Hypervisor: "qemu", PID: 42, Args: []string{"qemu-system-x86_64", "-m", "256"},
		Started: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Config: sample()}
	if err := WriteState(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if _, err := ReadState(t.TempDir()); !errors.Is(err, ErrNoState) {
		t.Errorf("empty dir: %v, want ErrNoState", err)
	}
	big := filepath.Join(dir, StateFile)
	if err := os.WriteFile(big, []byte(strings.Repeat(" ", maxStateSize)+"{}") /* valid JSON past the cap */, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("oversized state: %v, want ErrNoState", err)
	}
}
