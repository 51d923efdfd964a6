package sysinfo_test

import (
	"context"
	"fmt"
	"net"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
)

// A server with sys.info registered describes itself and lists the
// methods the caller may call.
func Example() {
	srv := rpc.NewServer(rpc.ServerOptions{})
	s, _ := sysinfo.NewService(sysinfo.Options{Version: "1.2.3"})
	s.Register(srv)
	defer s.Close()

	// One process plays both sides here; a host dials with transport.Dial.
	agentEnd, hostEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(agentEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()
	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	info, err := sysinfo.NewClient(c).Info(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Version, info.Methods)
	// Output:
	// 1.2.3 [sys.info sys.ping]
}
