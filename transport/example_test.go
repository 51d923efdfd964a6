package transport_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// A target string names the transport, its address, and for an
// agent-side listener the options that confine it.
func ExampleParseTarget() {
	t, err := transport.ParseTarget("unix:/run/guestrpc.sock,allow=sys.*;file.read,mode=0660")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Scheme, t.Address)
	fmt.Println(t.Options.Allow, t.Options.Mode)
	fmt.Println("needs a policy:", t.Options.Policy())

	_, err = transport.ParseTarget("unix:/run/guestrpc.sock,colour=blue")
	fmt.Println(err != nil)
	// Output:
	// unix /run/guestrpc.sock
	// [sys.* file.read] -rw-rw----
	// needs a policy: true
	// true
}

// The agent side listens on a target, the host dials one; the same
// strings work for tcp:, vsock: and virtio: (and, on the host, the
// hypervisors' hybrid: and hyperkit: sockets).
func ExampleListen() {
	dir, err := os.MkdirTemp("", "transport-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	target := "unix:" + filepath.Join(dir, "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())

	// Guest side.
	l, err := transport.Listen(ctx, target+",mode=0600")
	if err != nil {
		fmt.Println(err)
		cancel()
		return
	}
	srv := rpc.NewServer(rpc.ServerOptions{Name: "example"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, l)
	}()
	defer func() { cancel(); <-done }()

	// Host side.
	c, err := transport.Dial(ctx, target, rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Call(ctx, "sys.ping", nil, nil))
	// Output:
	// <nil>
}
