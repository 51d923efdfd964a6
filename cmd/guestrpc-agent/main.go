// Command guestrpc-agent is the guestrpc guest agent. It serves any number
// of transports at once:
//
//	guestrpc-agent --listen vsock:5100 --listen virtio:org.guestrpc.0
//	guestrpc-agent --listen unix:/run/guestrpc.sock --listen tcp:127.0.0.1:5100 --token-file /etc/guestrpc/token
//	guestrpc-agent --dial vsock:2:5100        # reverse mode: connect to the host, then serve
//	guestrpc-agent --vmware --listen vsock:5100  # also VMware Tools over the backdoor (TCLO)
//	guestrpc-agent --vmware --vmware-trust-vix   # and VIX guest operations for the VMX
//	guestrpc-agent --listen vsock:5100 --matchlock --prokshy prokshy --vsockexec 2:1024,persistent
//
// Who may connect: unix sockets are created 0600 and admit root and the
// agent's own uid (--allow-uid, --allow-gid widen that); vsock admits the
// host, CID 2 (--allow-cid); virtio-console is the hypervisor's; TCP
// needs a token from --token-file, and a non-loopback TCP address needs
// --listen-public too. What they may call: --allow-rpcs and
// --block-rpcs, comma-separated method globs. Each target may refine
// these with options after its address, e.g.
//
//	--listen unix:/run/guestrpc-ro.sock,allow=sys.*;file.read;file.stat,mode=0660,group=wheel
//
// (see package transport and SECURITY.md).
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
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox/vix"
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

// options are the parsed command line.
type options struct {
	listens, dials specList
	verbose        bool
	grace          time.Duration
	name, root     string
	readOnly, reap bool
	vmware         bool
	trustVIX       bool
	vixIO          bool
	maxConns       int
	policy         policyFlags
	compat         compatFlags
	memory         memoryFlags
}

func parse(args []string, stderr io.Writer) (*options, int) {
	fs := flag.NewFlagSet("guestrpc-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.Var(&o.listens, "listen", "serve on `SPEC`: unix:PATH, tcp:ADDR, vsock:PORT, virtio:NAME, each with optional ,KEY=VALUE options (repeatable)")
	fs.Var(&o.dials, "dial", "reverse mode: connect to `SPEC` (vsock:CID:PORT, unix:PATH, tcp:ADDR) and serve on it (repeatable)")
	fs.BoolVar(&o.verbose, "v", false, "log every session and call at debug level")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "how long shutdown waits for in-flight calls")
	fs.StringVar(&o.name, "name", "", "agent name announced to hosts (default: guestrpc-agent)")
	fs.StringVar(&o.root, "root", "/", "confine the file.* methods to `DIR`")
	fs.BoolVar(&o.readOnly, "read-only", false, "refuse file.* calls that would change the file system")
	fs.BoolVar(&o.reap, "reap", os.Getpid() == 1, "reap orphaned processes (become a child subreaper); on by default as PID 1")
	fs.BoolVar(&o.vmware, "vmware", false, "serve the VMware toolbox (TCLO) when the backdoor's message channel answers")
	fs.BoolVar(&o.trustVIX, "vmware-trust-vix", false, "run VIX guest operations (vSphere's guest ops) for any credential the VMX relays, as the agent's user, as govmomi's toolbox does; without it they are refused with AUTH_FAIL")
	fs.IntVar(&o.maxConns, "max-conns", rpc.DefaultMaxConns, "serve at most `N` connections at once across all transports; more are refused with ResourceExhausted")
	fs.BoolVar(&o.vixIO, "vmware-vix-io", false, "serve the stdio of programs started through VIX as the files /proc/PID/stdin, stdout and stderr, and the Go function vix-roundtrip")
	o.policy.register(fs)
	o.compat.register(fs)
	o.memory.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	if err := o.memory.check(); err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return nil, 2
	}
	if o.maxConns < 1 {
		fmt.Fprintf(stderr, "guestrpc-agent: --max-conns %d: need at least 1\n", o.maxConns)
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "guestrpc-agent: unexpected arguments %q\n", fs.Args())
		return nil, 2
	}
	if len(o.listens) == 0 && len(o.dials) == 0 && !o.vmware && !o.compat.any() {
		fmt.Fprintln(stderr, "guestrpc-agent: nothing to serve: give at least one --listen, --dial or --vmware")
		fs.Usage()
		return nil, 2
	}
	return o, 0
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, code := parse(args, stderr)
	if o == nil {
		return code
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.memory.apply()
	defer startProfiles(log)()

	lc, err := o.policy.config()
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 2
	}
	if lc.Policy.Insecure {
		log.Warn("--insecure: every peer on every transport is admitted without checks; for tests only")
	}
	ls, err := listeners(ctx, lc, o)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 1
	}
	a, err := agent.New(agent.Config{Logger: log, Name: o.name, Reap: o.reap, Policy: lc.Policy, MaxConns: o.maxConns,
		ShutdownGrace: o.grace, Files: files.Options{Root: o.root, ReadOnly: o.readOnly}})
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 1
	}
	defer a.Close()
	if o.vmware {
		vo := agent.VMwareOptions{Logger: log, VIXProcessIO: o.vixIO}
		if o.trustVIX {
			log.Warn("--vmware-trust-vix: VIX guest operations run as the agent for whoever controls the VMX")
			vo.VIXAuthenticate = vix.TrustVMX
		}
		vm, err := a.ListenVMware(ctx, vo)
		switch {
		case err != nil && len(ls) == 0:
			fmt.Fprintf(stderr, "guestrpc-agent: --vmware: %v\n", err)
			return 1
		case err != nil:
			log.Warn("--vmware: not serving the toolbox", "error", err)
		default:
			defer vm.Close()
			ls = append(ls, vm.Listener)
		}
	}
	if o.compat.any() {
		c, err := a.StartCompat(ctx, o.compat.options(log))
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
			return 1
		}
		defer c.Close()
	}
	if err := a.Serve(ctx, ls...); err != nil {
		fmt.Fprintf(stderr, "guestrpc-agent: %v\n", err)
		return 1
	}
	return 0
}

// listeners opens every --listen target and makes a reverse-mode
// listener for every --dial one; on error it returns those made so far,
// for the caller to close.
func listeners(ctx context.Context, lc *transport.ListenConfig, o *options) ([]channel.Listener, error) {
	var ls []channel.Listener
	for _, spec := range o.listens {
		l, err := lc.Listen(ctx, spec)
		if err != nil {
			return ls, fmt.Errorf("--listen %s: %w", spec, err)
		}
		ls = append(ls, l)
	}
	for _, spec := range o.dials {
		l, err := lc.Reverse(spec)
		if err != nil {
			return ls, fmt.Errorf("--dial %s: %w", spec, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
