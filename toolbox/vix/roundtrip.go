package vix

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/guestrpc/guestrpc/process"
)

// RoundTripFunc is a Go-function process for Options.GoFuncs (register
// it with process.Service.RegisterFunc): its one argument is a TCP
// address the guest reaches; it sends its stdin there, half-closes the
// connection at stdin's EOF, and copies the answer to its stdout. With
// Options.ProcessIO a host runs one HTTP exchange with a service bound
// to the guest's loopback through file transfers, as govmomi's
// NewProcessRoundTrip does.
func RoundTripFunc(ctx context.Context, p *process.FuncProcess) (int, error) {
	if len(p.Args) != 1 {
		return 2, errors.New("vix: round trip: want one argument, host:port")
	}
	c, err := new(net.Dialer).DialContext(ctx, "tcp", p.Args[0])
	if err != nil {
		return 1, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if _, err := io.Copy(c, p.Stdin); err != nil {
		return 1, err
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if _, err := io.Copy(p.Stdout, c); err != nil {
		return 1, err
	}
	return 0, nil
}
