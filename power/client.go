package power

import (
	"context"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// Client asks an agent to change the guest's power state (the host side).
type Client struct {
	rc *rpc.Client
}

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{rc: c} }

// Halt asks the guest to power off. The agent replies, then acts after
// delay (0: the agent's own, Options.Delay; at most an hour), so a nil
// error means the guest accepted and is about to go down. An operation
// the guest cannot do is an *rpc.Error with code Unimplemented.
func (c *Client) Halt(ctx context.Context, delay time.Duration) error {
	return c.do(ctx, Halt, delay)
}

// Reboot asks the guest to reboot, as Halt does.
func (c *Client) Reboot(ctx context.Context, delay time.Duration) error {
	return c.do(ctx, Reboot, delay)
}

// Suspend asks the guest to suspend to RAM, as Halt does.
func (c *Client) Suspend(ctx context.Context, delay time.Duration) error {
	return c.do(ctx, Suspend, delay)
}

func (c *Client) do(ctx context.Context, op Op, delay time.Duration) error {
	var req request
	if delay != 0 {
		req.Delay = delay.String()
	}
	return c.rc.Call(ctx, "power."+string(op), req, nil)
}
