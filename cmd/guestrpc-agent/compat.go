package main

import (
	"flag"
	"log/slog"
	"strings"

	"github.com/guestrpc/guestrpc/agent"
)

// compatFlags turn on the seed protocols (agent.StartCompat).
type compatFlags struct {
	matchlock  bool
	prokshy    string
	prokshyDir string
	vsockexec  string
}

func (c *compatFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.matchlock, "matchlock", false, "also speak matchlock's agent protocol on vsock ports 5000 (exec) and 5002 (ready)")
	fs.StringVar(&c.prokshy, "prokshy", "", "also serve prokshy on the virtio-console port `NAME` (a native HELLO there works too)")
	fs.StringVar(&c.prokshyDir, "prokshy-dir", "/usr/local/etc/prokshy/command.d", "prokshy's command directory `DIR`")
	fs.StringVar(&c.vsockexec, "vsockexec", "", "also run vsock_guest_exec's protocol: connect to `CID:PORT` (2:1024 by default), append ,persistent for its persistent mode")
}

func (c *compatFlags) any() bool { return c.matchlock || c.prokshy != "" || c.vsockexec != "" }

func (c *compatFlags) options(log *slog.Logger) agent.CompatOptions {
	addr, mode, _ := strings.Cut(c.vsockexec, ",")
	return agent.CompatOptions{
		Logger: log, Matchlock: c.matchlock, Prokshy: c.prokshy, ProkshyDir: c.prokshyDir,
		VsockExec: addr, VsockExecPersistent: mode == "persistent",
	}
}
