package channel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// A channel moves whole frames. The agent side listens, the host side
// dials, and each Send arrives as one Receive. Most programs hand the
// channel to rpc.NewClient or rpc.Server.ServeChannel instead of using
// frames themselves, and name it by a target string through package
// transport.
func ExampleListenUnix() {
	dir, err := os.MkdirTemp("", "channel-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "agent.sock")
	ctx := context.Background()

	l, err := channel.ListenUnix(path, channel.StreamOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	received := make(chan string, 1)
	go func() {
		ch, err := l.Accept(ctx)
		if err != nil {
			received <- err.Error()
			return
		}
		defer ch.Close()
		var f wire.Frame
		if err := ch.Receive(ctx, &f); err != nil {
			received <- err.Error()
			return
		}
		received <- fmt.Sprintf("%v on stream %d: %q", f.Type, f.StreamID, f.Payload)
	}()

	ch, err := channel.DialUnix(ctx, path, channel.StreamOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close()
	if err := ch.Send(ctx, &wire.Frame{Type: wire.TypeData, StreamID: 1, Payload: []byte("hello")}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-received)
	// Output:
	// DATA on stream 1: "hello"
}
