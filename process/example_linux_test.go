package process_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// The guest serves a Service; the host runs a command through a Client
// and gets its output and exit status, as with os/exec.
func ExampleClient_Run() {
	// Guest side.
	m, err := process.NewService(process.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	m.Register(srv)
	guestEnd, hostEnd := net.Pipe() // a real guest listens on vsock or virtio
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()

	// Host side.
	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	pc := process.NewClient(c)
	res, err := pc.Run(ctx, process.Spec{Path: "sh", Args: []string{"-c", "echo hello; exit 3"}}, nil, os.Stdout, os.Stderr)
	if res != nil {
		fmt.Println("exit code", res.ExitCode)
	}
	var exit *process.ExitError
	if errors.As(err, &exit) {
		fmt.Println(exit)
	}
	// Output:
	// hello
	// exit code 3
	// process exited with code 3
}

// A Go function registered with RegisterFunc runs as a process: the host
// starts it by name, with stdin, stdout and an exit code.
func ExampleService_RegisterFunc() {
	m, err := process.NewService(process.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	m.RegisterFunc("upper", func(ctx context.Context, p *process.FuncProcess) (int, error) {
		in, err := io.ReadAll(p.Stdin)
		if err != nil {
			return 1, err
		}
		fmt.Fprintln(p.Stdout, strings.ToUpper(string(in)))
		return 0, nil
	})
	srv := rpc.NewServer(rpc.ServerOptions{})
	m.Register(srv)
	guestEnd, hostEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()

	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	res, err := process.NewClient(c).Run(ctx, process.Spec{Path: "upper"}, strings.NewReader("gopher"), os.Stdout, nil)
	fmt.Println(res.ExitCode, err)
	// Output:
	// GOPHER
	// 0 <nil>
}

// The host starts a process, which runs until it is told to stop, and
// sends it SIGTERM by id; Wait then reports how it ended: ExitCode -1,
// as with os/exec, and the signal's name.
func ExampleClient_Signal() {
	m, err := process.NewService(process.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	m.Register(srv)
	guestEnd, hostEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()

	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	pc := process.NewClient(c)
	p, err := pc.Start(ctx, process.Spec{Path: "sleep", Args: []string{"1000"}}, nil, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pc.Signal(ctx, p.ID, "TERM"); err != nil { // or p.Signal(ctx, "TERM")
		fmt.Println(err)
	}
	_, err = p.Wait()
	var exit *process.ExitError
	if errors.As(err, &exit) {
		fmt.Println(exit.ExitCode, exit.Signal)
	}
	fmt.Println(err)
	// Output:
	// -1 SIGTERM
	// process killed by signal SIGTERM
}
