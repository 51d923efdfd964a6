package hgfs

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/guestrpc/guestrpc/rpc"
)

// method is the rpc method that carries HGFS packets.
const method = "hgfs.packet"

// connKey finds a Service's Conn in an rpc session.
type connKey struct{ s *Service }

// Register exposes s as the rpc method hgfs.packet: the request packet
// is the call's raw arguments (or, when they are empty, its DATA), and
// the reply packet comes back as DATA. Each rpc connection gets its own
// Conn: its sessions and open files end with the connection.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(method, rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
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

// Client sends HGFS packets to an agent's hgfs.packet method. It is
// safe for concurrent use; each packet travels in its own call, and the
// sessions and handles it opens belong to c's connection.
type Client struct {
	c *rpc.Client
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Do sends one HGFS request packet and returns the reply packet. An HGFS
// failure is a reply with an error status, not an error: err reports
// only a failed call (the connection, the agent's policy, ctx).
func (c *Client) Do(ctx context.Context, packet []byte) ([]byte, error) {
	st, err := c.c.Open(ctx, method, bytes.Clone(packet))
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
