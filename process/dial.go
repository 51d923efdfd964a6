package process

import (
	"context"
	"io"
	"net"

	"github.com/guestrpc/guestrpc/rpc"
)

// closeWriter is a net.Conn that can half-close (TCP and unix).
type closeWriter interface{ CloseWrite() error }

// serveDial is net.dial: dial an address in the guest and pipe lane 0
// both ways until both directions have ended or the call is canceled.
func (m *Manager) serveDial(ctx context.Context, call *rpc.Request) (any, error) {
	var req DialRequest
	if err := call.DecodeArgs(&req); err != nil {
		return nil, err
	}
	switch req.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: network %q: want tcp, tcp4, tcp6 or unix", MethodDial, req.Network)
	}
	if req.Address == "" {
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: empty address", MethodDial)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, req.Network, req.Address)
	if err != nil {
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %w", MethodDial, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := sendEvent(call, Event{Type: "connected"}); err != nil {
		return nil, err
	}
	m.log.Debug("process: forwarding", "network", req.Network, "address", req.Address)
	up := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, call)
		if cw, ok := conn.(closeWriter); ok && err == nil {
			_ = cw.CloseWrite()
		}
		up <- err
	}()
	_, derr := io.Copy(call, conn)
	_ = call.CloseWrite()
	uerr := <-up
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s %s: reading: %w", MethodDial, req.Network, req.Address, derr)
	}
	if uerr != nil {
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s %s: writing: %w", MethodDial, req.Network, req.Address, uerr)
	}
	return nil, nil
}
