// Command quickstart runs the guestrpc agent and a host client in one
// process over a unix socket in a temporary directory, and shows the main
// jobs with timings: ping, a handler registered with RegisterHandler.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
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

	// The guest side: the default agent plus a method of our own.
	srv := agent.NewServer(agent.Options{Name: "quickstart-agent"})
	srv.RegisterHandler("demo.greet", rpc.Unary(func(ctx context.Context, a greetArgs) (string, error) {
		return "hello, " + a.Name + ", from the agent", nil
	}))
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	if err != nil {
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, l) }()
	defer func() {
		_ = srv.Shutdown(ctx)
		stop()
		<-served
	}()

	// The host side: dial the agent and call it.
	start := time.Now()
	ch, err := channel.DialUnix(ctx, sock, channel.StreamOptions{})
	if err != nil {
		return err
	}
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
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

	var info rpc.Info
	if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
		return fmt.Errorf("sys.info: %w", err)
	}
	fmt.Fprintf(out, "sys.info: %s/%s kernel %s, agent %s, methods: %s\n", info.OS, info.Arch, info.Kernel, info.AgentVersion, strings.Join(info.Methods, " "))

	t := time.Now()
	var greeting string
	if err := c.Call(ctx, "demo.greet", greetArgs{Name: "quickstart"}, &greeting); err != nil {
		return fmt.Errorf("demo.greet: %w", err)
	}
	fmt.Fprintf(out, "demo.greet (registered with RegisterHandler): %q in %v\n", greeting, time.Since(t).Round(time.Microsecond))
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
