package qemu

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type cpioEntry struct {
	Name string
	Mode uint32
	Data string
}

// parseNewc reads back a newc archive, checking magic and padding.
func parseNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+6+8*i+8]), 16, 32)
		if err != nil {
			t.Fatalf("field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	for {
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, b[off:off+6])
		}
		mode, size, namesize := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+int(namesize)-1])
		off += 110 + int(namesize)
		off += (4 - off%4) % 4
		data := string(b[off : off+int(size)])
		off += int(size)
		off += (4 - off%4) % 4
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, data})
	}
}

func TestCPIO(t *testing.T) {
	var buf bytes.Buffer
	c := NewCPIO(&buf)
	c.Dir("/bin", 0o755)
	c.File("/bin/x", 0o755, []byte("abc"))
	c.File("/init", 0o700, []byte("12345678"))
	c.Symlink("/bin/sh", "busybox")
	c.File("/etc/empty", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := []cpioEntry{
		{"bin", 0o40755, ""},
		{"bin/x", 0o100755, "abc"},
		{"init", 0o100700, "12345678"},
		{"bin/sh", 0o120777, "busybox"},
		{"etc/empty", 0o100644, ""},
	}
	if diff := cmp.Diff(want, parseNewc(t, buf.Bytes())); diff != "" {
		t.Fatalf("archive (-want +got):\n%s", diff)
	}
}

// requireLab returns the lab's assets, skipping the test without them
// unless GUESTRPC_E2E=1 requires them.
func requireLab(t *testing.T) *Assets {
	t.Helper()
	a, err := Ensure(context.Background(), false, t.Logf)
	if err != nil {
		if os.Getenv("GUESTRPC_E2E") == "1" {
			t.Fatalf("QEMU lab required (GUESTRPC_E2E=1): %v", err)
		}
		t.Skipf("no QEMU lab: %v", err)
	}
	return a
}

// TestResolveModules reads the lab's kernel: skipped, naming what is
// missing, without the lab, and failing under GUESTRPC_E2E=1.
func TestResolveModules(t *testing.T) {
	a := requireLab(t)
	mods, err := ResolveModules(a.Modules, GuestModules())
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		pos[m.Name] = i
	}
	for _, m := range mods {
		deps, err := moduleDepends(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deps {
			if p, ok := pos[canonical(d)]; !ok || p > pos[m.Name] {
				t.Errorf("%s depends on %s, which is missing or loads after it", m.Name, d)
			}
		}
	}
	for _, want := range GuestModules() {
		if !slices.ContainsFunc(mods, func(m Module) bool { return m.Name == want }) {
			t.Errorf("module %s not resolved", want)
		}
	}
	if _, err := ResolveModules(a.Modules, []string{"no_such_module"}); err == nil {
		t.Error("resolving a missing module succeeded")
	}
}
