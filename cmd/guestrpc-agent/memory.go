package main

import (
	"flag"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// memoryFlags tune how much memory the agent keeps. Their defaults leave
// the Go runtime as the environment sets it (GOGC, GOMEMLIMIT) and
// release what start-up used.
type memoryFlags struct {
	gcPercent   int
	memoryLimit int64
	keepStartup bool
}

func (m *memoryFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&m.gcPercent, "gc-percent", 0, "run the garbage collector when the heap has grown by `N` percent since the last collection (0: GOGC, else 100; lower keeps less memory at the cost of CPU)")
	fs.Int64Var(&m.memoryLimit, "memory-limit", 0, "a soft limit of `BYTES` on the agent's memory, which makes the garbage collector work harder near it (0: GOMEMLIMIT, else none)")
	fs.BoolVar(&m.keepStartup, "keep-startup-memory", false, "keep what start-up used resident: by default the agent then collects its garbage and, on Linux, unmaps the pages of its own binary that start-up read and has the kernel map later ones a page at a time (see releaseText)")
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

// releaseStartup returns what start-up used, unless told to keep it:
// the garbage of parsing, setting up services and listeners, and the
// binary's pages that only start-up needed. Called once, when the agent
// is about to serve.
func (m *memoryFlags) releaseStartup(log *slog.Logger) {
	if m.keepStartup {
		return
	}
	n, err := releaseText()
	if err != nil {
		log.Debug("memory: the binary's pages stay mapped", "error", err)
		return
	}
	log.Debug("memory: released the binary's start-up pages", "bytes", n)
}
