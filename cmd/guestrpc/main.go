// Command guestrpc is the host-side client of the guestrpc agent.
//
//	guestrpc --connect TARGET ping [-n COUNT]
//	guestrpc --connect TARGET info
//
// TARGET is one of unix:PATH, tcp:ADDR, vsock:CID:PORT, hybrid:UDS:PORT,
// hyperkit:DIR:CID:PORT or virtio:SOCKPATH (a QEMU/bhyve chardev socket).
// GUESTRPC_CONNECT supplies it when --connect is absent. An agent
// listening on TCP wants a token: --token-file FILE (or
// GUESTRPC_TOKEN_FILE) names the file holding it; the token itself never
// goes on the command line.
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
type command struct {
	summary string
	run     func(ctx context.Context, c *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

func commands() map[string]command {
	return map[string]command{
		"ping": {"measure round trips to the agent", runPing},
		"info": {"print what the agent reports about the guest", runInfo},
		"cp":   {"copy files and directories to or from the guest", runCp},
		"exec": {"run a command in the guest", runExec},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("guestrpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("connect", os.Getenv("GUESTRPC_CONNECT"), "agent `TARGET`: unix:PATH, tcp:ADDR, vsock:CID:PORT, hybrid:UDS:PORT, hyperkit:DIR:CID:PORT, virtio:SOCKPATH")
	dialTimeout := fs.Duration("dial-timeout", 10*time.Second, "how long to wait for the connection and handshake")
	tokenFile := fs.String("token-file", os.Getenv("GUESTRPC_TOKEN_FILE"), "present the token in `FILE` to the agent (TCP agents require one); default $GUESTRPC_TOKEN_FILE")
	cmds := commands()
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guestrpc --connect TARGET COMMAND [ARGS]\n\ncommands:")
		for _, name := range sortedKeys(cmds) {
			fmt.Fprintf(stderr, "  %-9s %s\n", name, cmds[name].summary)
		}
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cmd, ok := cmds[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "guestrpc: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *target == "" {
		fmt.Fprintln(stderr, "guestrpc: no agent to talk to: give --connect TARGET or set GUESTRPC_CONNECT")
		return 2
	}
	opts := rpc.ClientOptions{Name: "guestrpc-cli"}
	if *tokenFile != "" {
		tok, err := transport.ReadTokenFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc: --token-file: %v\n", err)
			return 2
		}
		opts.Token = tok
	}
	dctx, cancel := context.WithTimeout(ctx, *dialTimeout)
	c, err := rpc.Dial(dctx, *target, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc: connecting to %s: %v\n", *target, err)
		return 1
	}
	defer c.Close()
	code, err := cmd.run(ctx, c, fs.Args()[1:], stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc %s: %v\n", fs.Arg(0), err)
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}
