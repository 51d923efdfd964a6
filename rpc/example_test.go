package rpc_test

import (
	"context"
	"fmt"
	"net"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// A guest registers a method the way net/http registers a handler; the
// host calls it with JSON in and out.
func ExampleServer_RegisterHandler() {
	type greeting struct {
		Name string `json:"name"`
	}
	srv := rpc.NewServer(rpc.ServerOptions{Name: "example-guest"})
	srv.RegisterHandler("demo.greet", rpc.Unary(func(ctx context.Context, g greeting) (string, error) {
		if g.Name == "" {
			return "", rpc.Errorf(rpc.InvalidArgument, "demo.greet: name is empty")
		}
		return "hello, " + g.Name, nil
	}))

	// Any byte stream will do; a real guest listens on vsock or virtio.
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

	var reply string
	err = c.Call(ctx, "demo.greet", greeting{Name: "gopher"}, &reply)
	fmt.Println(reply, err)

	err = c.Call(ctx, "demo.greet", greeting{}, &reply)
	fmt.Println(rpc.CodeOf(err))

	err = c.Call(ctx, "demo.nope", nil, nil)
	fmt.Println(rpc.CodeOf(err))
	// Output:
	// hello, gopher <nil>
	// InvalidArgument
	// Unimplemented
}
