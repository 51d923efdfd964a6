package agent_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// The default agent runs commands and moves files; here it serves one
// host connection and the host runs a shell command.
func ExampleNew() {
	a, err := agent.New(agent.Config{Name: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	guestEnd, hostEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()

	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	res, err := process.NewClient(c).Run(ctx, process.Spec{Shell: "echo hello from the guest"}, nil, os.Stdout, os.Stderr)
	fmt.Println(res.ExitCode, err)
	// Output:
	// hello from the guest
	// 0 <nil>
}
