// Command guestrpc-bench measures guestrpc-agent, run as its own process
// over a unix socket, beside QEMU's guest agent (qemu-ga) and beside
// floors that cross the same process boundary with no protocol at all,
// in interleaved rounds so that a busy machine slows all alike:
//
//	go run ./cmd/guestrpc-bench [-rounds 9] [-json]
//
// It is what `make bench` runs, from the module root (it builds the
// agent with go build). See BENCHMARKS.md for what each figure means.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/bench"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	rounds, pings, execs, conc, idle int
	sizeMiB, movedMiB                int64
	agent, qga, dir, jsonFile        string
	noQGA, json, noQEMU              bool
	qemuRounds, qemuPings            int
	qemuSizeMiB                      int64
	agentEnv                         envList
	window                           uint
	floorChild, floorDir, download   string
}

func parse(args []string, stderr io.Writer) (*options, bool) {
	fs := flag.NewFlagSet("guestrpc-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVar(&o.rounds, "rounds", 9, "interleaved rounds; each metric's spread is over these")
	fs.IntVar(&o.pings, "pings", 300, "pings of each kind per round")
	fs.IntVar(&o.execs, "execs", 20, "runs of /bin/true each way per round")
	fs.IntVar(&o.conc, "concurrency", 16, "goroutines for the concurrent sys.ping figure")
	fs.IntVar(&o.idle, "idle", 10000, "idle connections to open for the per-connection cost (0: skip)")
	fs.Int64Var(&o.sizeMiB, "size", 64, "MiB per upload and download")
	fs.Int64Var(&o.movedMiB, "moved", 1024, "MiB each agent moves before its RSS is read again")
	fs.Var(&o.agentEnv, "agent-env", "add `K=V` to the agent's environment, e.g. GOGC=50 to try runtime settings (repeatable)")
	fs.UintVar(&o.window, "client-window", 0, "the client's per-stream receive window in `BYTES`, which paces downloads (0: the client's default)")
	fs.StringVar(&o.agent, "agent", "", "a built guestrpc-agent to measure (default: go build one, static and stripped)")
	fs.StringVar(&o.qga, "qga", "", "qemu-ga binary (default: from PATH or /usr/sbin)")
	fs.BoolVar(&o.noQGA, "no-qga", false, "leave qemu-ga out")
	fs.BoolVar(&o.noQEMU, "no-qemu", false, "leave out the virtio-serial figures, which boot QEMU guests when the lab is set up (bash scripts/qemu-setup.sh)")
	fs.IntVar(&o.qemuRounds, "qemu-rounds", 3, "interleaved rounds in each QEMU guest")
	fs.IntVar(&o.qemuPings, "qemu-pings", 100, "round trips of each kind per QEMU round")
	fs.Int64Var(&o.qemuSizeMiB, "qemu-size", 64, "MiB per upload and download in a QEMU guest")
	fs.StringVar(&o.dir, "dir", defaultDir(), "where the sockets and files go (tmpfs by default, so the disk does not set the pace)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON instead of a Markdown table")
	fs.StringVar(&o.jsonFile, "json-file", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&o.floorChild, "floor-child", "", "internal: serve the floors on this socket")
	fs.StringVar(&o.floorDir, "floor-dir", "", "internal: the floor child's upload directory")
	fs.StringVar(&o.download, "download", "", "internal: the floor child's download file")
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if fs.NArg() > 0 || o.rounds < 1 || o.pings < 1 || o.execs < 1 || o.conc < 1 || o.sizeMiB < 1 || o.idle < 0 ||
		o.qemuRounds < 1 || o.qemuPings < 1 || o.qemuSizeMiB < 1 {
		fmt.Fprintf(stderr, "guestrpc-bench: bad arguments %q\n", args)
		return nil, false
	}
	return o, true
}

// envList collects repeated -agent-env K=V.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not K=V", v)
	}
	*e = append(*e, v)
	return nil
}

func defaultDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, ok := parse(args, stderr)
	if !ok {
		return 2
	}
	if o.floorChild != "" {
		if err := serveFloor(o.floorChild, o.floorDir, o.download); err != nil {
			fmt.Fprintf(stderr, "floor child: %v\n", err)
			return 1
		}
		return 0
	}
	rep, err := measure(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-bench: %v\n", err)
		return 1
	}
	if o.jsonFile != "" {
		if err := writeJSONFile(o.jsonFile, rep); err != nil {
			fmt.Fprintf(stderr, "guestrpc-bench: %v\n", err)
			return 1
		}
	}
	if o.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "guestrpc-bench: %v\n", err)
		return 1
	}
	return 0
}

func writeJSONFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// env is what measure sets up: the processes and the subjects.
type env struct {
	dir, agentBin, qgaBin string
	floorSock             string
	agent, qga, floor     *child
	sub                   *subjects
	notes                 []string
}

func (e *env) close() {
	if e.sub != nil {
		e.sub.c.Close()
		for _, f := range []*floorConn{e.sub.echo, e.sub.up, e.sub.down, e.sub.run, e.sub.upBuf, e.sub.downBuf} {
			if f != nil {
				f.Close()
			}
		}
		if e.sub.q != nil {
			e.sub.q.Close()
		}
	}
	for _, c := range []*child{e.agent, e.qga, e.floor} {
		if c != nil {
			c.stop()
		}
	}
	_ = os.RemoveAll(e.dir)
}

// setup builds and starts everything measured.
func setup(ctx context.Context, o *options, stderr io.Writer) (*env, error) {
	dir, err := os.MkdirTemp(o.dir, "guestrpc-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, agentBin: o.agent}
	root := filepath.Join(dir, "root")
	data := make([]byte, o.sizeMiB<<20)
	_, _ = rand.Read(data)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return e, err
	}
	if err := os.WriteFile(filepath.Join(root, "down"), data, 0o644); err != nil {
		return e, err
	}
	if e.agentBin == "" {
		fmt.Fprintln(stderr, "building guestrpc-agent (static, stripped)")
		if e.agentBin, err = buildAgent(ctx, dir); err != nil {
			return e, err
		}
	}
	if e.floor, err = startFloorChild(ctx, e, root); err != nil {
		return e, err
	}
	e.sub = &subjects{root: root, data: data, conc: o.conc, order: newOrder()}
	if err := e.startAgents(ctx, o, stderr); err != nil {
		return e, err
	}
	return e, e.dialFloors()
}

func startFloorChild(ctx context.Context, e *env, root string) (*child, error) {
	ch, sock, err := startFloor(ctx, e.dir, filepath.Join(root, "down"))
	e.floorSock = sock
	return ch, err
}

// startAgents starts guestrpc-agent and, unless it is missing or left
// out, qemu-ga.
func (e *env) startAgents(ctx context.Context, o *options, stderr io.Writer) error {
	agent, c, err := startAgent(ctx, e.agentBin, e.dir, e.sub.root, o.idle+rpc.DefaultMaxConns, o.agentEnv, uint32(min(o.window, 1<<31)))
	if err != nil {
		return err
	}
	e.agent, e.sub.c = agent, c
	e.sub.pc, e.sub.fc = process.NewClient(c), files.NewClient(c)
	if o.noQGA {
		e.notes = append(e.notes, "qemu-ga left out (-no-qga)")
		return nil
	}
	if e.qgaBin, err = findQGA(o.qga); err != nil {
		msg := "qemu-ga not found (install the qemu-guest-agent package; make bench tries apt-get): its column is skipped"
		fmt.Fprintln(stderr, msg)
		e.notes = append(e.notes, msg)
		return nil
	}
	if e.qga, e.sub.q, err = startQGA(ctx, e.qgaBin, e.dir); err != nil {
		return fmt.Errorf("qemu-ga: %w", err)
	}
	return nil
}

func (e *env) agentSock() string { return filepath.Join(e.dir, "agent.sock") }

func (e *env) dialFloors() error {
	var err error
	for _, f := range []struct {
		c    **floorConn
		mode byte
	}{{&e.sub.echo, modeEcho}, {&e.sub.up, modeUpload}, {&e.sub.down, modeDownload}, {&e.sub.run, modeExec},
		{&e.sub.upBuf, modeUploadBuf}, {&e.sub.downBuf, modeDownloadBuf}} {
		if *f.c, err = dialFloor(e.floorSock, f.mode); err != nil {
			return fmt.Errorf("floor child: %w", err)
		}
	}
	return nil
}
