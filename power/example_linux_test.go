package power_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// The host asks for a reboot; the guest answers first and acts after the
// delay. A fake Act stands in for the real one here, which would reboot
// the machine; Before is the hook for the embedding program's own
// shutdown.
func Example() {
	hooked, acted := make(chan power.Op, 1), make(chan power.Op, 1)
	svc, err := power.NewService(power.Options{
		Before: func(ctx context.Context, op power.Op) error {
			hooked <- op // e.g. flush the program's own state
			return nil
		},
		Act:   func(op power.Op) error { acted <- op; return nil },
		Delay: time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)

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
	pc := power.NewClient(c)
	fmt.Println("reply:", pc.Reboot(ctx, 0))
	fmt.Println("before:", <-hooked)
	fmt.Println("acted:", <-acted)

	err = pc.Halt(ctx, 2*time.Hour)
	fmt.Println(rpc.CodeOf(err))
	// Output:
	// reply: <nil>
	// before: reboot
	// acted: reboot
	// InvalidArgument
}
