// Package bridge connects a compat protocol server to the agent's
// rpc.Server in process, so that the seed protocols run on the same
// handlers (process.*, file.*, net.dial) and under the same policy as the
// native protocol.
//
// Each compat connection gets its own native connection: a unix socket
// pair whose agent end carries the compat peer's identity (unix
// credentials, vsock CID, virtio), so the server's Policy admits or
// refuses the compat peer exactly as it would a native one, and its
// method globs, budgets and limits apply to what the peer asks for.
package bridge

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// bridgeWindow is the receive window of a bridge's client.
const bridgeWindow = 1 << 20

// Conn is a native client connection to the agent on behalf of one
// compat peer.
type Conn struct {
	*rpc.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// Open serves one connection of srv for peer and returns a client on it.
// A peer the policy refuses fails here with the server's *rpc.Error
// (PermissionDenied or ResourceExhausted, with the reason).
func Open(ctx context.Context, srv *rpc.Server, peer channel.PeerInfo, name string, token []byte) (*Conn, error) {
	a, z, err := socketPair()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(sctx, channel.NewStreamPeer(a, channel.StreamOptions{}, peer))
	}()
	// This client lives in the agent, so it grants a window of the
	// agent's memory: 1 MiB, half a native peer's, since on an
	// in-process socket pair a frame's round trip takes microseconds,
	// and what it holds comes on top of what the compat protocol's own
	// encoding holds.
	c, err := rpc.NewClient(ctx, channel.NewStreamPeer(z, channel.StreamOptions{}, channel.PeerInfo{}),
		rpc.ClientOptions{Name: name, Token: token, Window: bridgeWindow})
	if err != nil {
		_ = z.Close()
		_ = a.Close()
		cancel()
		<-done
		return nil, err
	}
	return &Conn{Client: c, cancel: cancel, done: done}, nil
}

// Close closes the client and waits for the agent side to finish.
func (c *Conn) Close() error {
	err := c.Client.Close()
	c.cancel()
	<-c.done
	return err
}

func socketPair() (net.Conn, net.Conn, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("bridge: socketpair: %w", err)
	}
	a, err := fileConn(fds[0], "bridge-agent")
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	z, err := fileConn(fds[1], "bridge-client")
	if err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	return a, z, nil
}

func fileConn(fd int, name string) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), name)
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("bridge: %s: %w", name, err)
	}
	return c, nil
}
