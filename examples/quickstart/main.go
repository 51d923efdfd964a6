// Command quickstart runs the guestrpc agent and a host client in one
// process over a unix socket in a temporary directory, and shows the main
// jobs with timings: ping, a handler registered with RegisterHandler, a
// command with streamed output, and a file copied in and back out.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
	"github.com/guestrpc/guestrpc/transport"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

type greetArgs struct {
	Name string `json:"name"`
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "guestrpc-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "agent.sock")

	// The guest side: the default agent (processes, files, power) plus a
	// method of our own.
	a, err := agent.New(agent.Config{Name: "quickstart-agent"})
	if err != nil {
		return err
	}
	defer a.Close()
	a.RegisterHandler("demo.greet", rpc.Unary(func(ctx context.Context, a greetArgs) (string, error) {
		return "hello, " + a.Name + ", from the agent", nil
	}))
	l, err := transport.Listen(ctx, "unix:"+sock)
	if err != nil {
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx, l) }()
	defer func() {
		stop() // Serve shuts down gracefully
		<-served
	}()

	// The host side: dial the agent and call it.
	start := time.Now()
	c, err := transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "connected to %s over unix:%s in %v\n", c.PeerName(), sock, time.Since(start).Round(time.Microsecond))

	const pings = 1000
	rtts := make([]time.Duration, pings)
	for i := range rtts {
		t := time.Now()
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			return fmt.Errorf("sys.ping: %w", err)
		}
		rtts[i] = time.Since(t)
	}
	fmt.Fprintf(out, "sys.ping x%d: median %v, min %v, max %v\n", pings, median(rtts), slices.Min(rtts), slices.Max(rtts))

	info, err := sysinfo.NewClient(c).Info(ctx)
	if err != nil {
		return fmt.Errorf("sys.info: %w", err)
	}
	fmt.Fprintf(out, "sys.info: %s/%s kernel %s, agent %s, methods: %s\n", info.OS, info.Arch, info.Kernel, info.Version, strings.Join(info.Methods, " "))

	t := time.Now()
	var greeting string
	if err := c.Call(ctx, "demo.greet", greetArgs{Name: "quickstart"}, &greeting); err != nil {
		return fmt.Errorf("demo.greet: %w", err)
	}
	fmt.Fprintf(out, "demo.greet (registered with RegisterHandler): %q in %v\n", greeting, time.Since(t).Round(time.Microsecond))

	if err := runCommand(ctx, out, c); err != nil {
		return err
	}
	return copyBothWays(ctx, out, c, dir)
}

// runCommand runs a shell command in the "guest", streaming its output as
// it is produced, and shows the exit code.
func runCommand(ctx context.Context, out io.Writer, c *rpc.Client) error {
	const script = `for i in 1 2 3; do echo "line $i from $(uname -s)"; sleep 0.1; done; echo "to stderr" >&2; exit 3`
	fmt.Fprintf(out, "exec sh -c %q:\n", script)
	prefix := func(tag string) io.Writer { return &linePrefixer{w: out, prefix: "  " + tag + " | "} }
	t := time.Now()
	res, err := process.NewClient(c).Run(ctx, process.Spec{Shell: script}, nil, prefix("stdout"), prefix("stderr"))
	var exit *process.ExitError
	switch {
	case errors.As(err, &exit):
		res = &exit.Result
	case err != nil:
		return fmt.Errorf("exec: %w", err)
	}
	fmt.Fprintf(out, "  exit code %d after %v (output streamed as it was produced)\n", res.ExitCode, time.Since(t).Round(time.Millisecond))
	return nil
}

// copyBothWays uploads a file into the "guest", downloads it back and
// checks both copies.
func copyBothWays(ctx context.Context, out io.Writer, c *rpc.Client, dir string) error {
	const size = 32 << 20
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	want := sha256.Sum256(data)
	fc := files.NewClient(c)
	guestPath := filepath.Join(dir, "guest-copy.bin")

	t := time.Now()
	wres, err := fc.Upload(ctx, bytes.NewReader(data), guestPath, files.WriteOptions{Checksum: true})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	up := time.Since(t)
	fmt.Fprintf(out, "upload   %d MiB to %s: %v (%.0f MiB/s), sha256 verified by the agent\n", wres.Size>>20, guestPath, up.Round(time.Millisecond), float64(size)/(1<<20)/up.Seconds())

	t = time.Now()
	var back bytes.Buffer
	if _, err := fc.Download(ctx, guestPath, &back, files.ReadOptions{Checksum: true}); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	down := time.Since(t)
	if sha256.Sum256(back.Bytes()) != want {
		return errors.New("download: the bytes that came back differ from those sent")
	}
	fmt.Fprintf(out, "download %d MiB back: %v (%.0f MiB/s), sha256 %x… matches\n", back.Len()>>20, down.Round(time.Millisecond), float64(size)/(1<<20)/down.Seconds(), want[:6])
	return nil
}

// linePrefixer writes each line of output with a prefix.
type linePrefixer struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !p.midLine {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return 0, err
			}
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		p.midLine = line[len(line)-1] != '\n'
	}
	return len(b), nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
