package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	"github.com/guestrpc/guestrpc/rpc"
)

// Client dials addresses inside the guest (the host side).
type Client struct {
	rc *rpc.Client
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{rc: c} }

// Dial connects to address on network ("tcp", "tcp4", "tcp6" or "unix")
// as seen from inside the guest and returns the connection as a
// net.Conn. ctx bounds only the dialing, as with net.Dialer: once Dial
// has returned, canceling ctx does not end the connection.
//
// The connection behaves like a TCP one: Write returns once its bytes
// are queued (blocking while a 64 KiB send buffer is full), deadlines
// interrupt blocked Reads and Writes, CloseWrite half-closes, and Close
// is graceful: written bytes are still delivered, then the guest side
// sees EOF; after 2s the stream is abandoned. Errors are *net.OpError.
func (c *Client) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	remote := addr{network, address}
	s, err := c.rc.Open(ctx, methodDial, dialRequest{Network: network, Address: address})
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: remote, Err: err}
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	err = readConnected(s)
	if !stop() {
		s.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: remote, Err: ctx.Err()}
	}
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: remote, Err: err}
	}
	sc := &streamConn{
		s: s, remote: remote,
		data: make(chan []byte), closed: make(chan struct{}),
		queue: make(chan []byte, 1), free: make(chan []byte, 1), halfClose: make(chan struct{}),
	}
	sc.free <- make([]byte, connChunk)
	sc.rdl.init()
	sc.wdl.init()
	go sc.reader()
	go sc.writer()
	return sc, nil
}

// readConnected waits for the "connected" event; if the stream ends
// first it returns the call's error.
func readConnected(s *rpc.Stream) error {
	var buf [512]byte
	n, err := s.LaneReader(laneEvents).Read(buf[:])
	if err != nil {
		if werr := s.Wait(nil); werr != nil {
			return werr
		}
		return fmt.Errorf("forward: the agent ended the call without a \"connected\" event: %w", err)
	}
	var ev event
	if err := json.Unmarshal(buf[:n], &ev); err != nil {
		s.Close()
		return fmt.Errorf("forward: the agent sent a malformed event %q: %w", buf[:n], err)
	}
	if ev.Type != "connected" {
		s.Close()
		return fmt.Errorf("forward: the agent sent event %q, want \"connected\"", ev.Type)
	}
	return nil
}
