package backdoor

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// tcloMaxPayload is the payload cap both sides of the translation
// announce: a whole TCLO message, in base64, fits.
const tcloMaxPayload = 2 * MaxMessage

// tcloConn is one TCLO session as a channel.Channel: Receive runs OVT's
// poll loop (send the last reply, receive; back off while idle) and
// yields each command as OPEN+FIN; Send takes the STATUS that answers it.
type tcloConn struct {
	l *tcloListener

	status    chan []byte // reply text of the command in flight
	closed    chan struct{}
	closeOnce sync.Once
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc

	smu    sync.Mutex // Send side
	stream uint32     // the stream of the command in flight; 0 if none

	bmu       sync.Mutex // the backdoor channel
	ch        *Channel
	helloDone bool   // Receive side: our HELLO went out
	reply     []byte // to send at the next poll; nil for the empty poll
	delay     int    // poll delay in PollUnits
	nextID    uint32
	inflight  bool // an OPEN went out and its STATUS has not been taken
	frame     []byte
}

func newTCLOConn(l *tcloListener) *tcloConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &tcloConn{l: l, status: make(chan []byte, 1), closed: make(chan struct{}), ctx: ctx, cancel: cancel, nextID: 1}
}

func (c *tcloConn) PeerInfo() channel.PeerInfo { return channel.PeerInfo{Transport: TransportTCLO} }
func (c *tcloConn) RemoteAddr() net.Addr       { return tcloAddr{} }
func (c *tcloConn) MaxPayload() uint32         { return tcloMaxPayload }

// Close ends the session; the listener yields the next one.
func (c *tcloConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		c.bmu.Lock()
		c.closeBackdoor()
		c.bmu.Unlock()
		select {
		case c.l.free <- struct{}{}:
		default:
		}
	})
	return nil
}

func (c *tcloConn) closeBackdoor() {
	if c.ch != nil {
		_ = c.ch.Close()
		c.ch = nil
	}
}

func (c *tcloConn) errClosed() error {
	return fmt.Errorf("backdoor: TCLO session: %w", channel.ErrClosed)
}

// Send takes the server's frames: its HELLO, and the STATUS of the
// command in flight. DATA, WINDOW and the rest carry nothing a TCLO reply
// can hold and are dropped.
func (c *tcloConn) Send(ctx context.Context, f *wire.Frame) error {
	select {
	case <-c.closed:
		return c.errClosed()
	default:
	}
	c.smu.Lock()
	defer c.smu.Unlock()
	switch {
	case f.Type == wire.TypeStatus && f.StreamID == 0:
		st, _ := wire.ParseStatus(f.Payload)
		c.l.opts.Logger.Warn("backdoor: the server refused the TCLO session", "reason", string(st.Message))
	case f.Type == wire.TypeStatus && f.StreamID != 0 && f.StreamID == c.stream:
		c.stream = 0
		c.status <- []byte(tcloReply(f.Payload))
	}
	return nil
}

// Receive yields our HELLO first, then one OPEN+FIN per command. It
// waits for the STATUS of the previous command before polling again, as
// OVT runs one command at a time.
func (c *tcloConn) Receive(ctx context.Context, f *wire.Frame) error {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	select {
	case <-c.closed:
		return c.errClosed()
	default:
	}
	if !c.helloDone {
		c.helloDone = true
		*f = wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{
			Version: wire.Version, MaxPayload: tcloMaxPayload, InitialWindow: wire.MinMaxPayload, Name: "vmx"})}
		return nil
	}
	if c.inflight {
		select { // the command in flight: wait for its STATUS
		case r := <-c.status:
			c.reply, c.inflight = r, false
		case <-c.closed:
			return c.errClosed()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		msg, err := c.poll(ctx)
		if err != nil {
			return err
		}
		if msg == nil {
			continue
		}
		method, args, reply := tcloCommand(c.l.opts.MethodPrefix, msg)
		if reply != "" {
			c.reply = []byte(reply)
			continue
		}
		return c.open(f, method, args)
	}
}

func (c *tcloConn) open(f *wire.Frame, method string, args []byte) error {
	id := c.nextID
	c.nextID += 2
	c.inflight = true
	c.smu.Lock()
	c.stream = id
	c.smu.Unlock()
	c.frame = wire.AppendOpen(c.frame[:0], 0, method, args)
	*f = wire.Frame{StreamID: id, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: c.frame}
	return nil
}

// poll is one iteration of OVT's RpcInLoop: wait the current delay, send
// the last reply (empty when there is none), receive. It returns the
// command, or nil after an idle poll or a recovered error.
func (c *tcloConn) poll(ctx context.Context) ([]byte, error) {
	o := &c.l.opts
	if c.delay > 0 {
		if err := c.wait(ctx, o.PollUnit*time.Duration(c.delay)); err != nil {
			return nil, err
		}
	}
	if c.ch == nil {
		if err := c.reopen(ctx); err != nil {
			return nil, err
		}
	}
	msg, err := c.exchange()
	if err != nil {
		o.Logger.Warn("backdoor: TCLO loop failed; reopening the channels", "error", err, "after", o.RestartDelay)
		c.closeBackdoor()
		if o.RPCI != nil {
			o.RPCI.Reset()
		}
		c.reply, c.delay = nil, 0
		return nil, c.wait(ctx, o.RestartDelay)
	}
	if msg == nil {
		c.delay = min(max(c.delay*2, 1), o.MaxPollDelay)
		return nil, nil
	}
	c.delay = 0
	return msg, nil
}

func (c *tcloConn) exchange() ([]byte, error) {
	if err := c.ch.Send(c.reply); err != nil {
		return nil, err
	}
	c.reply = nil
	msg, ok, err := c.ch.Receive()
	if err != nil || !ok {
		return nil, err
	}
	if msg == nil {
		msg = []byte{} // an empty command is still a command
	}
	return msg, nil
}

// reopen opens the TCLO channel, retrying every RestartDelay.
func (c *tcloConn) reopen(ctx context.Context) error {
	o := &c.l.opts
	for {
		ch, err := OpenChannel(c.l.p, ProtoTCLO)
		if err == nil {
			ch.LowBandwidthOnly = o.LowBandwidthOnly
			c.ch = ch
			return nil
		}
		o.Logger.Warn("backdoor: opening the TCLO channel", "error", err, "retry", o.RestartDelay)
		if err := c.wait(ctx, o.RestartDelay); err != nil {
			return err
		}
	}
}

// wait sleeps for d, or returns early with an error when ctx ends or the
// session closes.
func (c *tcloConn) wait(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	if err := c.l.opts.Wait(ctx, d); err != nil {
		if c.ctx.Err() != nil {
			return c.errClosed()
		}
		return err
	}
	return nil
}
