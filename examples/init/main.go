// Command init is a complete init for a small Linux guest whose only job
// is to run the guestrpc agent: boot it as /init from an initramfs.
//
// It mounts /proc, /sys, /dev, /dev/pts, /run and /tmp; loads the kernel
// modules listed in /lib/modules/guestrpc/load-order (each after its
// dependencies) with finit_module(2); brings up the loopback interface;
// then serves rpc on the virtio-console port named by guestrpc.port= on
// the kernel command line (default org.guestrpc.0) and on vsock port
// 5100, and dials out in reverse mode to each guestrpc.dial= target.
// vsock peers other than the host (CID 2) are refused unless
// guestrpc.allow_cid=CID[,CID] lists them (the list replaces the
// default, so name 2 too to keep the host). As
// PID 1 it reaps orphans and powers the machine off on
// power.halt, or when serving ends. guestrpc.matchlock=1,
// guestrpc.prokshy=NAME and guestrpc.vsockexec=CID:PORT[,persistent] turn
// on the seed protocols beside it (compat.go).
//
// The QEMU end-to-end suite boots exactly this program.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
	"github.com/guestrpc/guestrpc/vsock"
)

// moduleDir holds the modules and their load order.
const moduleDir = "/lib/modules/guestrpc"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err := run(log)
	if err != nil {
		log.Error("init failed", "error", err)
	}
	if os.Getpid() == 1 {
		// PID 1 must not exit: the kernel would panic. Power off instead.
		log.Info("serving ended; powering off")
		_ = powerOff(log, power.Halt)
		select {}
	}
	if err != nil {
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	start := time.Now()
	if os.Getpid() == 1 {
		if err := mountAll(); err != nil {
			return err
		}
	}
	if err := loadModules(log, moduleDir); err != nil {
		return err
	}
	if err := loopbackUp(); err != nil {
		log.Warn("loopback interface", "error", err)
	}
	cmdline := kernelArgs()
	port := cmdline["guestrpc.port"]
	if port == "" {
		port = "org.guestrpc.0"
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var policy rpc.Policy
	if cids := cmdline["guestrpc.allow_cid"]; cids != "" {
		for _, c := range strings.Split(cids, ",") {
			cid, err := vsock.ParsePort(c)
			if err != nil {
				return fmt.Errorf("guestrpc.allow_cid: %w", err)
			}
			policy.AllowCIDs = append(policy.AllowCIDs, cid)
		}
	}
	a, ls, closeServices, err := newAgent(ctx, log, policy)
	if err != nil {
		return err
	}
	defer closeServices()

	// The port appears once virtio_console has probed the device; give it
	// a moment rather than racing the driver.
	var vl channel.Listener
	for i := 0; ; i++ {
		vl, err = channel.ListenVirtio(port, channel.VirtioOptions{})
		if err == nil || i == 250 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("virtio port: %w", err)
	}
	ls = append(ls, vl)
	if l, err := vsock.Listen(vsock.DefaultPort, channel.StreamOptions{}); err != nil {
		log.Warn("vsock unavailable", "error", err)
	} else {
		ls = append(ls, l)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	// guestrpc.dial=SPEC[,SPEC] adds reverse-mode sessions: the agent
	// connects out (e.g. vsock:2:5100, to a host that only accepts) and
	// serves on the connection, redialing when it ends.
	if specs := cmdline["guestrpc.dial"]; specs != "" {
		var lc transport.ListenConfig
		for _, spec := range strings.Split(specs, ",") {
			l, err := lc.Reverse(spec)
			if err != nil {
				return fmt.Errorf("guestrpc.dial: %w", err)
			}
			ls = append(ls, l)
		}
	}
	log.Info("guestrpc init ready", "port", port, "vsock", vsock.DefaultPort, "dial", cmdline["guestrpc.dial"], "setup", time.Since(start).Round(time.Microsecond))
	return a.Serve(ctx, ls...)
}

// powerOff performs op, first saying so on the console and waiting for
// the line to leave it: the host tells a power-off from a crash by it.
func powerOff(log *slog.Logger, op power.Op) error {
	log.Info("calling reboot(2)", "op", op)
	drainConsole()
	return power.Default(op)
}

// loadModules loads each module named in dir/load-order; modules already
// present (built in, or loaded before) are fine.
func loadModules(log *slog.Logger, dir string) error {
	f, err := os.Open(filepath.Join(dir, "load-order"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		if err := finitModule(filepath.Join(dir, name)); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("load module %s: %w", name, err)
		}
		log.Debug("module loaded", "module", name)
	}
	return sc.Err()
}

// kernelArgs returns the key=value words of /proc/cmdline.
func kernelArgs() map[string]string {
	args := map[string]string{}
	b, _ := os.ReadFile("/proc/cmdline")
	for _, w := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(w, "=")
		args[k] = v
	}
	return args
}
