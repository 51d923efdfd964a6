package vmm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// StateFile is the name of the JSON state file inside Config.StateDir.
const StateFile = "vm.json"

// maxStateSize caps what ReadState reads: a state file is a few KiB.
const maxStateSize = 1 << 20

// ErrNoState reports a state directory without a readable state file.
var ErrNoState = errors.New("vmm: no VM state")

// State is what a running VM leaves in its state directory.
type State struct {
	Hypervisor string    `json:"hypervisor"` // "qemu", "hyperkit", "firecracker"
	PID        int       `json:"pid"`        // the hypervisor process
	Args       []string  `json:"args"`       // its command line, argv[0] first
	Started    time.Time `json:"started"`
	Config     Config    `json:"config"`
}

// WriteState writes s to dir/StateFile, replacing it atomically.
func WriteState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("vmm: encode state: %w", err)
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("vmm: write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("vmm: write state: %w", err)
	}
	return nil
}

// ReadState reads the state file in dir.
func ReadState(dir string) (State, error) {
	var s State
	f, err := os.Open(filepath.Join(dir, StateFile))
	if err != nil {
		return s, fmt.Errorf("%w in %s: %w", ErrNoState, dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return s, fmt.Errorf("%w in %s: %w", ErrNoState, dir, err)
	}
	n := len(b)
	if n > maxStateSize {
		return s, fmt.Errorf("%w in %s: state file over %d bytes", ErrNoState, dir, maxStateSize)
	}
	if err := json.Unmarshal(b[:n], &s); err != nil {
		return s, fmt.Errorf("%w in %s: %w", ErrNoState, dir, err)
	}
	return s, nil
}
