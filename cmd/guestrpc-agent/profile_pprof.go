//go:build pprof

package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles profiles the agent when it is built with -tags pprof
// (the release build carries none of this): a CPU profile from start to
// exit into $GUESTRPC_CPUPROFILE, and a profile of every allocation still
// live at exit into $GUESTRPC_MEMPROFILE. The returned func writes them.
func startProfiles(log *slog.Logger) (stop func()) {
	cpu, mem := os.Getenv("GUESTRPC_CPUPROFILE"), os.Getenv("GUESTRPC_MEMPROFILE")
	if mem != "" {
		runtime.MemProfileRate = 1
	}
	var cf *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error("pprof: CPU profile", "file", cpu, "error", err)
		} else {
			cf = f
		}
	}
	return func() {
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
		if mem == "" {
			return
		}
		f, err := os.Create(mem)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			log.Error("pprof: heap profile", "file", mem, "error", err)
		}
	}
}
