package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// The examples in this file hold the Go snippets of README.md ("As a
// library"), so that they compile; TestREADMESnippets checks that the
// README still shows these lines. They are compiled, not run: they
// listen on and dial vsock.

// Guest side: embed the agent and add a method.
func Example_guestSide() {
	ctx := context.Background()
	logger := slog.Default()
	version := "1.2.3"

	a, err := agent.New(agent.Config{Logger: logger})
	if err != nil {
		logger.Error("agent", "error", err)
		return
	}
	defer a.Close()
	a.RegisterHandler("app.version", rpc.Unary(func(ctx context.Context, _ struct{}) (string, error) {
		return version, nil
	}))
	l, err := transport.Listen(ctx, "vsock:5100")
	if err != nil {
		logger.Error("listen", "error", err)
		return
	}
	err = a.Serve(ctx, l)
	logger.Info("served", "error", err)
}

// Host side: call it, run a command, copy a file.
func Example_hostSide() {
	ctx := context.Background()

	c, err := transport.Dial(ctx, "vsock:3:5100", rpc.ClientOptions{}) // any --connect target
	if err != nil {
		return
	}
	defer c.Close()
	var v string
	err = c.Call(ctx, "app.version", nil, &v)
	if errors.Is(err, rpc.ErrUnimplemented) {
		return
	}

	res, err := process.NewClient(c).Run(ctx, process.Spec{Shell: "uname -a"}, nil, os.Stdout, os.Stderr)
	var exit *process.ExitError
	if errors.As(err, &exit) {
		_, _ = exit.ExitCode, exit.Signal
	}
	_ = res

	f, err := os.Open("app.tar")
	if err != nil {
		return
	}
	defer f.Close()
	_, err = files.NewClient(c).Upload(ctx, f, "/tmp/app.tar", files.WriteOptions{Checksum: true})

	// Port forwarding: a net.Conn into the guest.
	conn, err := forward.NewClient(c).Dial(ctx, "tcp", "127.0.0.1:8080")
	if err == nil {
		conn.Close()
	}
}
