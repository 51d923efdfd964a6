// Command guestrpc is the host-side client of the guestrpc agent.
//
//	guestrpc --connect TARGET VERB [FLAGS] [ARGS]
//	guestrpc help [VERB]
//	guestrpc vm run [--kernel K] [--files DIR] [-- CMD [ARGS]]   (boots its own VM; no --connect)
//
// The verbs cover govc's guest commands: ping, info, exec, cp, ls, stat,
// rm, mkdir, mv, chmod, chown, touch, mktemp, ps, kill, start, getenv,
// forward, halt, reboot, and call for any registered method. Flags come
// before arguments; --json (where offered) writes one JSON object per
// line.
//
// TARGET is one of unix:PATH, tcp:ADDR, vsock:CID:PORT, hybrid:UDS:PORT,
// hyperkit:DIR:CID:PORT or virtio:SOCKPATH (a QEMU/bhyve chardev socket).
// GUESTRPC_CONNECT supplies it when --connect is absent. An agent
// listening on TCP wants a token: --token-file FILE (or
// GUESTRPC_TOKEN_FILE) names the file holding it; the token itself never
// goes on the command line.
//
// Exit statuses: 0 done, 1 failed, 2 usage, 3 not found, 4 denied,
// 5 already exists, 6 method not available, 7 agent unreachable; exec
// returns the remote command's status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand: it gets a connected client and its own args.
// Called with a nil client and args ["-help"], it prints its usage and
// returns flag.ErrHelp without touching the client (guestrpc help VERB;
// not "-h", which chown defines as coreutils' chown does).
type command struct {
	summary string
	run     func(ctx context.Context, c *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

func commands() map[string]command {
	return map[string]command{
		"ping":    {"measure round trips to the agent", runPing},
		"info":    {"print what the agent reports about the guest", runInfo},
		"cp":      {"copy files and directories to or from the guest", runCp},
		"exec":    {"run a command in the guest", runExec},
		"ls":      {"list guest directories", runLs},
		"stat":    {"describe guest files", runStat},
		"rm":      {"remove guest files or directories", runRm},
		"mkdir":   {"make guest directories", runMkdir},
		"mv":      {"rename or move a guest file", runMv},
		"chmod":   {"set the mode of guest files", runChmod},
		"chown":   {"set the owner of guest files", runChown},
		"touch":   {"create guest files or set their times to now", runTouch},
		"mktemp":  {"make a unique guest file or directory and print its path", runMktemp},
		"ps":      {"list the processes the agent runs", runPs},
		"kill":    {"signal a process the agent runs (or a guest pid)", runKill},
		"start":   {"start a detached guest command and print its pid", runStart},
		"getenv":  {"print the guest environment a started command gets", runGetenv},
		"forward": {"forward a local port to an address inside the guest", runForward},
		"halt":    {"power the guest off", runHalt},
		"reboot":  {"reboot the guest", runReboot},
		"call":    {"call any registered method with JSON arguments", runCall},
		"vm":      {"boot a QEMU VM with the agent, run a command in it, tear it down (no --connect)", runVM},
	}
}

// globals are the flags before the verb.
type globals struct {
	target      string
	dialTimeout time.Duration
	tokenFile   string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("guestrpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var g globals
	fs.StringVar(&g.target, "connect", os.Getenv("GUESTRPC_CONNECT"), "agent `TARGET`: unix:PATH, tcp:ADDR, vsock:CID:PORT, hybrid:UDS:PORT, hyperkit:DIR:CID:PORT, virtio:SOCKPATH")
	fs.DurationVar(&g.dialTimeout, "dial-timeout", 10*time.Second, "how long to wait for the connection and handshake")
	fs.StringVar(&g.tokenFile, "token-file", os.Getenv("GUESTRPC_TOKEN_FILE"), "present the token in `FILE` to the agent (TCP agents require one); default $GUESTRPC_TOKEN_FILE")
	cmds := commands()
	fs.Usage = func() { usage(fs, cmds) }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	if fs.Arg(0) == "help" {
		return runHelp(ctx, fs, cmds, fs.Args()[1:], stdout, stderr)
	}
	cmd, ok := cmds[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "guestrpc: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	var c *rpc.Client
	if !bootsOwnVM(fs.Arg(0)) {
		var code int
		if c, code = connect(ctx, g, stderr); c == nil {
			return code
		}
		defer c.Close()
	}
	code, err := cmd.run(ctx, c, fs.Args()[1:], stdin, stdout, stderr)
	if err != nil {
		var rep errReported
		if !errors.Is(err, flag.ErrHelp) && !errors.As(err, &rep) {
			fmt.Fprintf(stderr, "guestrpc %s: %v\n", fs.Arg(0), err)
		}
		if code == exitOK || code == exitFailed {
			code = exitFor(err)
		}
	}
	return code
}

// connect dials g.target; on failure it reports and returns the status.
func connect(ctx context.Context, g globals, stderr io.Writer) (*rpc.Client, int) {
	if g.target == "" {
		fmt.Fprintln(stderr, "guestrpc: no agent to talk to: give --connect TARGET or set GUESTRPC_CONNECT")
		return nil, exitUsage
	}
	opts := rpc.ClientOptions{Name: "guestrpc-cli"}
	if g.tokenFile != "" {
		tok, err := transport.ReadTokenFile(g.tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc: --token-file: %v\n", err)
			return nil, exitUsage
		}
		opts.Token = tok
	}
	dctx, cancel := context.WithTimeout(ctx, g.dialTimeout)
	c, err := transport.Dial(dctx, g.target, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc: connecting to %s: %v\n", g.target, err)
		if code := exitFor(err); code == exitDenied {
			return nil, code
		}
		return nil, exitUnreachable
	}
	return c, exitOK
}
