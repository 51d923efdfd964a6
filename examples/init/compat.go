package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/guestrpc/guestrpc/agent"
)

// startCompat turns on the seed protocols the kernel command line asks
// for, beside the native one:
//
//	guestrpc.matchlock=1                      matchlock's protocol, vsock ports 5000 and 5002
//	guestrpc.prokshy=NAME                     prokshy on the virtio-console port NAME
//	guestrpc.prokshy_dir=DIR                  its command directory (default /usr/local/etc/prokshy/command.d)
//	guestrpc.vsockexec=CID:PORT[,persistent]  vsock_guest_exec's protocol, connecting to the host
//
// It returns what stops them.
func startCompat(ctx context.Context, log *slog.Logger, a *agent.Agent, cmdline map[string]string) func() {
	o := compatOptions(cmdline)
	if !o.Matchlock && o.Prokshy == "" && o.VsockExec == "" {
		return func() {}
	}
	o.Logger = log
	c, err := a.StartCompat(ctx, o)
	if err != nil {
		log.Warn("seed protocols not served", "error", err)
		return func() {}
	}
	log.Info("seed protocols", "matchlock", o.Matchlock, "prokshy", o.Prokshy, "vsockexec", o.VsockExec)
	return func() { c.Close() }
}

func compatOptions(cmdline map[string]string) agent.CompatOptions {
	o := agent.CompatOptions{
		Matchlock:  cmdline["guestrpc.matchlock"] == "1",
		Prokshy:    cmdline["guestrpc.prokshy"],
		ProkshyDir: cmdline["guestrpc.prokshy_dir"],
	}
	if o.ProkshyDir == "" {
		o.ProkshyDir = "/usr/local/etc/prokshy/command.d"
	}
	if v, ok := cmdline["guestrpc.vsockexec"]; ok {
		addr, mode, _ := strings.Cut(v, ",")
		o.VsockExec, o.VsockExecPersistent = addr, mode == "persistent"
		if o.VsockExec == "" {
			o.VsockExec = ":" // the seed's defaults, 2:1024
		}
	}
	return o
}
