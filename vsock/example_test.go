package vsock_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevsock"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vsock"
)

// A host reaches an agent in a Firecracker or Cloud Hypervisor VM
// through the VM's vsock unix socket, without AF_VSOCK. Here a fake
// device stands in for the VM; with a real one, uds is the path in the
// VM's vsock configuration and the agent listens on vsock.DefaultPort.
func ExampleDialHybrid() {
	dir, err := os.MkdirTemp("", "vsock-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	vm, err := fakevsock.StartHybrid(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := rpc.NewServer(rpc.ServerOptions{Name: "guest"})
	vm.Listen(vsock.DefaultPort, func(conn net.Conn) { // the guest's agent
		srv.ServeChannel(ctx, channel.NewStream(conn, channel.StreamOptions{}))
	})

	ch, err := vsock.DialHybrid(ctx, vm.Path, vsock.DefaultPort, channel.StreamOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Call(ctx, "sys.ping", nil, nil))

	// A port nobody listens on is refused by the device.
	_, err = vsock.DialHybrid(ctx, vm.Path, 9999, channel.StreamOptions{})
	fmt.Println(errors.Is(err, vsock.ErrRefused))
	// Output:
	// <nil>
	// true
}

// hyperkit names a guest port's socket in its state directory by context
// ID and port, in hex.
func ExampleHyperkitSocket() {
	fmt.Println(vsock.HyperkitSocket("/var/run/vm1", 3, vsock.DefaultPort))
	// Output:
	// /var/run/vm1/00000003.000013ec
}
