package vmm

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadState: any state file is read or refused, never a panic, and
// what is read writes back and reads again the same.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"hypervisor":"qemu","pid":42,"args":["qemu-system-x86_64"],"config":{"kernel":"k","initrd":"i","state_dir":"/s","cpus":2,"memory_mib":512}}`))
	f.Add([]byte(`{"pid":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StateFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := ReadState(dir)
		if err != nil {
			return
		}
		if err := WriteState(dir, s); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadState(dir); err != nil {
			t.Fatalf("state written from %q does not read back: %v", b, err)
		}
	})
}
