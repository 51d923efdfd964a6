package main

import (
	"flag"
	"fmt"
	"runtime/debug"
)

// memoryFlags tune how much memory the agent keeps. Their defaults leave
// the Go runtime as the environment sets it (GOGC, GOMEMLIMIT).
type memoryFlags struct {
	gcPercent   int
	memoryLimit int64
}

func (m *memoryFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&m.gcPercent, "gc-percent", 0, "run the garbage collector when the heap has grown by `N` percent since the last collection (0: GOGC, else 100; lower keeps less memory at the cost of CPU)")
	fs.Int64Var(&m.memoryLimit, "memory-limit", 0, "a soft limit of `BYTES` on the agent's memory, which makes the garbage collector work harder near it (0: GOMEMLIMIT, else none)")
}

func (m *memoryFlags) check() error {
	if m.gcPercent < 0 {
		return fmt.Errorf("--gc-percent %d: want a positive percentage, or 0 for the default", m.gcPercent)
	}
	if m.memoryLimit < 0 {
		return fmt.Errorf("--memory-limit %d: want a positive number of bytes, or 0 for the default", m.memoryLimit)
	}
	return nil
}

// apply sets the runtime's knobs the flags name.
func (m *memoryFlags) apply() {
	if m.gcPercent > 0 {
		debug.SetGCPercent(m.gcPercent)
	}
	if m.memoryLimit > 0 {
		debug.SetMemoryLimit(m.memoryLimit)
	}
}
