package backdoor

import (
	"context"
	"errors"
	"fmt"
)

// ErrRPCIFailed is matched (errors.Is) by the *RPCIError the VMX's "0 "
// replies become.
var ErrRPCIFailed = errors.New("backdoor: the VMX refused the RPCI request")

// RPCIError is a request the VMX answered with failure ("0 <reason>").
type RPCIError struct {
	Request string // the request's first word, e.g. "tools.set.versiontype"
	Reason  string // the text after "0 "
}

func (e *RPCIError) Error() string {
	return fmt.Sprintf("backdoor: RPCI %q refused by the VMX: %q", e.Request, e.Reason)
}

// Is makes errors.Is(err, ErrRPCIFailed) true.
func (e *RPCIError) Is(target error) bool { return target == ErrRPCIFailed }

// RPCI sends requests to the VMX (guest → VMX), one at a time: a message
// channel carries one request and its reply before the next. The channel
// is opened on first use and reopened after an error. Safe for concurrent
// use.
type RPCI struct {
	p     Port
	sem   chan struct{} // one request at a time; a ctx-aware mutex
	ch    *Channel
	lowBW bool
}

// NewRPCI returns an RPCI client over p. lowBandwidthOnly disables REP
// INSB/OUTSB transfers.
func NewRPCI(p Port, lowBandwidthOnly bool) *RPCI {
	return &RPCI{p: p, sem: make(chan struct{}, 1), lowBW: lowBandwidthOnly}
}

func (c *RPCI) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("backdoor: waiting for the RPCI channel: %w", ctx.Err())
	}
}

func (c *RPCI) unlock() { <-c.sem }

// Call sends req exactly as given (OVT ends most requests with a NUL; see
// package toolbox) and returns the result after the VMX's "1 ". A "0 "
// reply is an *RPCIError; a reply that is neither is ErrChannel. A
// channel failure closes the channel, and the next Call opens a new one.
func (c *RPCI) Call(ctx context.Context, req []byte) ([]byte, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("backdoor: RPCI %q: %w", firstWord(req), err)
	}
	if c.ch == nil {
		ch, err := OpenChannel(c.p, ProtoRPCI)
		if err != nil {
			return nil, err
		}
		ch.LowBandwidthOnly = c.lowBW
		c.ch = ch
	}
	reply, err := c.roundTrip(req)
	if err != nil {
		c.resetLocked()
		return nil, err
	}
	return parseRPCIReply(req, reply)
}

func (c *RPCI) roundTrip(req []byte) ([]byte, error) {
	if err := c.ch.Send(req); err != nil {
		return nil, fmt.Errorf("backdoor: sending RPCI %q: %w", firstWord(req), err)
	}
	reply, ok, err := c.ch.Receive()
	if err != nil {
		return nil, fmt.Errorf("backdoor: receiving the reply to RPCI %q: %w", firstWord(req), err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: no reply to RPCI %q", ErrChannel, firstWord(req))
	}
	return reply, nil
}

// parseRPCIReply splits "1 result" / "0 reason" (rpcout.c RpcOut_send).
func parseRPCIReply(req, reply []byte) ([]byte, error) {
	if len(reply) < 2 || reply[1] != ' ' || (reply[0] != '1' && reply[0] != '0') {
		return nil, fmt.Errorf("%w: RPCI %q: reply %q is neither \"1 …\" nor \"0 …\"", ErrChannel, firstWord(req), cut(reply, 64))
	}
	if reply[0] == '0' {
		return nil, &RPCIError{Request: firstWord(req), Reason: string(cut(reply[2:], 4096))}
	}
	return reply[2:], nil
}

// Reset closes the channel; the next Call opens a new one. OVT reopens
// both channels after a TCLO loop error.
func (c *RPCI) Reset() {
	c.sem <- struct{}{}
	defer c.unlock()
	c.resetLocked()
}

func (c *RPCI) resetLocked() {
	if c.ch != nil {
		_ = c.ch.Close()
		c.ch = nil
	}
}

// Close closes the channel (not the port).
func (c *RPCI) Close() error {
	c.Reset()
	return nil
}

// firstWord names a request in errors without its (maybe long) payload.
func firstWord(b []byte) string {
	for i, c := range b {
		if c == ' ' || c == 0 {
			b = b[:i]
			break
		}
	}
	return string(cut(b, 64))
}

func cut(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
