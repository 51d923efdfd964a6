package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm"
	"github.com/guestrpc/guestrpc/vmm/qemu"
)

// bootsOwnVM reports whether verb starts its own guest instead of
// connecting to --connect's.
func bootsOwnVM(verb string) bool { return verb == "vm" }

// runVM is `guestrpc vm run [--kernel K] [--files DIR] [-- CMD ARGS…]`:
// it boots a QEMU VM with the agent as PID 1 (package vmm/qemu), runs CMD
// in it — or an interactive shell, `exec -t -- sh`, without one — prints
// its output, tears the VM down and exits with CMD's status. c is unused:
// the verb makes its own client.
func runVM(ctx context.Context, _ *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("vm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guestrpc vm run [--kernel K] [--files DIR] [--memory MIB] [--accel tcg|kvm] [--src DIR] [-- CMD [ARGS...]]\n\n"+
			"Boots a QEMU VM with the agent (needs the lab that `make e2e-setup` installs and a guestrpc\n"+
			"checkout to build it from), runs CMD in it — an interactive shell without one — and tears it down.")
		fs.PrintDefaults()
	}
	kernel := fs.String("kernel", "", "boot kernel `K` instead of the lab's (virtio-console built in or matching the lab's modules)")
	files := fs.String("files", "", "copy the tree under host `DIR` into the guest's root")
	memory := fs.Int("memory", vmm.DefaultMemoryMiB, "guest RAM in `MIB`")
	accel := fs.String("accel", "", "QEMU accelerator `tcg` or kvm (default: kvm when /dev/kvm works, else tcg)")
	src := fs.String("src", "", "guestrpc checkout `DIR` to build the agent from (default: the module of the working directory)")
	bootTimeout := fs.Duration("boot-timeout", 5*time.Minute, "how long to wait for the agent")
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fs.Usage()
			return exitUsage, flag.ErrHelp
		}
		fs.Usage()
		return exitUsage, errors.New("want the subcommand run")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage, err
	}
	cfg := qemu.Config{Config: vmm.Config{Kernel: *kernel, MemoryMiB: *memory}, Accel: *accel,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	guest := qemu.Guest{Files: *files, SourceDir: *src}
	execArgs := append([]string{"--"}, fs.Args()...)
	if fs.NArg() == 0 {
		execArgs = []string{"-t", "--", "sh"}
	}
	return bootAndExec(ctx, cfg, guest, *bootTimeout, execArgs, stdin, stdout, stderr)
}

// bootAndExec boots the VM, runs `exec execArgs` in it and tears it down.
// Ctrl-C while booting abandons the boot; once the command runs, exec
// forwards it to the command.
func bootAndExec(ctx context.Context, cfg qemu.Config, guest qemu.Guest, bootTimeout time.Duration, execArgs []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	bctx, stop := signal.NotifyContext(bctx, os.Interrupt)
	vm, c, err := qemu.Boot(bctx, cfg, guest, rpc.ClientOptions{Name: "guestrpc-vm"})
	stop()
	cancel()
	if err != nil {
		return exitFailed, fmt.Errorf("booting the VM: %w", err)
	}
	defer func() {
		c.Close()
		if err := vm.Stop(); err != nil {
			fmt.Fprintf(stderr, "guestrpc vm: %v\n", err)
		}
		if err := vm.Remove(); err != nil {
			fmt.Fprintf(stderr, "guestrpc vm: %v\n", err)
		}
	}()
	return runExec(ctx, c, execArgs, stdin, stdout, stderr)
}
