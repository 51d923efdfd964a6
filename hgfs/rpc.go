package hgfs

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/guestrpc/guestrpc/rpc"
)

// Method is the rpc method that carries HGFS packets.
const Method = "hgfs.packet"

// connKey finds a Server's Conn in an rpc session.
type connKey struct{ s *Server }

// Register exposes s as the rpc method hgfs.packet: the request packet
// is the call's raw arguments (or, when they are empty, its DATA), and
// the reply packet comes back as DATA. Each rpc connection gets its own
// Conn: its sessions and open files end with the connection.
func (s *Server) Register(srv *rpc.Server) {
	srv.RegisterHandler(Method, rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
		conn := call.Session().Value(connKey{s}, func() any { return s.NewConn() }).(*Conn)
		packet := call.Args
		if len(packet) == 0 {
			b, err := io.ReadAll(io.LimitReader(call, LargePacketMax+1))
			if err != nil {
				return nil, err
			}
			packet = b
		}
		if _, err := call.Write(conn.Dispatch(ctx, packet)); err != nil {
			return nil, err
		}
		return nil, nil
	}))
}

// Call sends one HGFS packet through c and returns the reply packet.
func Call(ctx context.Context, c *rpc.Client, packet []byte) ([]byte, error) {
	st, err := c.Open(ctx, Method, bytes.Clone(packet))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	defer context.AfterFunc(ctx, func() { st.CloseWithError(ctx.Err()) })()
	if err := st.CloseWrite(); err != nil {
		return nil, err
	}
	reply, err := io.ReadAll(io.LimitReader(st, LargePacketMax+1))
	if werr := st.Wait(nil); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, fmt.Errorf("hgfs: reading the reply: %w", err)
	}
	return reply, nil
}
