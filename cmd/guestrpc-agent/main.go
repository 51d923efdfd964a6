// Command guestrpc-agent is the guestrpc guest agent. It serves any number
// of transports at once:
//
//	guestrpc-agent --listen vsock:5100 --listen virtio:org.guestrpc.0
//	guestrpc-agent --listen unix:/run/guestrpc.sock --listen tcp:127.0.0.1:5100
//	guestrpc-agent --dial vsock:2:5100        # reverse mode: connect to the host, then serve
//
// SIGTERM or SIGINT shuts it down gracefully. Build it static for an
// initramfs: CGO_ENABLED=0 go build ./cmd/guestrpc-agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// specList collects a repeatable flag.
type specList []string

func (s *specList) String() string     { return strings.Join(*s, ",") }
func (s *specList) Set(v string) error { *s = append(*s, v); return nil }

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("guestrpc-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var listens, dials specList
	fs.Var(&listens, "listen", "serve on `SPEC`: unix:PATH, tcp:ADDR, vsock:PORT, virtio:NAME (repeatable)")
	fs.Var(&dials, "dial", "reverse mode: connect to `SPEC` (vsock:CID:PORT, unix:PATH, tcp:ADDR) and serve on it (repeatable)")
	verbose := fs.Bool("v", false, "log every session and call at debug level")
	grace := fs.Duration("grace", 10*time.Second, "how long shutdown waits for in-flight calls")
	name := fs.String("name", "", "agent name announced to hosts (default: guestrpc-agent)")
	root := fs.String("root", "/", "confine the file.* methods to `DIR`")
	readOnly := fs.Bool("read-only", false, "refuse file.* calls that would change the file system")
	reap := fs.Bool("reap", os.Getpid() == 1, "reap orphaned processes (become a child subreaper); on by default as PID 1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(listens) == 0 && len(dials) == 0 {
		fmt.Fprintln(stderr, "guestrpc-agent: nothing to serve: give at least one --listen or --dial")
		fs.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var ls []channel.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for _, spec := range listens {
		l, err := transport.Listen(ctx, spec, channel.StreamOptions{})
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc-agent: --listen %s: %v\n", spec, err)
			return 1
		}
		ls = append(ls, l)
	}
	var dialers []func(context.Context) (channel.Channel, error)
	for _, spec := range dials {
		dial, err := transport.DialAgent(spec, channel.StreamOptions{})
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc-agent: --dial %s: %v\n", spec, err)
			return 2
		}
		dialers = append(dialers, dial)
	}
	a, err := agent.New(agent.Config{Logger: log, Name: *name, Reap: *reap, Files: files.Options{Root: *root, ReadOnly: *readOnly}})
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 1
	}
	defer a.Close()
	if err := agent.ServeAll(ctx, a.Server, log, *grace, ls, dialers); err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 1
	}
	return 0
}
