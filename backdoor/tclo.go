package backdoor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// TransportTCLO is the channel.PeerInfo transport of a TCLO session.
const TransportTCLO = channel.TransportVMware

// TCLO replies (tclodefs.h, rpcChannel.c).
const (
	replyOK             = "OK "
	replyError          = "ERROR "
	replyUnknownCommand = "ERROR Unknown Command"
	replyBadCommand     = "ERROR Bad command"
)

// Status codes of PROTOCOL.md that the translation treats specially.
const (
	codeOK            = 0
	codeUnimplemented = 12
)

// DefaultMethodPrefix is prepended to a TCLO command's name to form the
// method it calls: "ping" calls "toolbox.ping".
const DefaultMethodPrefix = "toolbox."

// TCLOOptions configure ListenTCLO.
type TCLOOptions struct {
	Logger *slog.Logger
	// RPCI is reset together with the TCLO channel after an error, as OVT
	// restarts both channels. May be nil.
	RPCI *RPCI
	// MethodPrefix is prepended to each command's name; empty means
	// DefaultMethodPrefix.
	MethodPrefix string
	// PollUnit is OVT's poll delay unit (10 ms); the idle delay runs 1,
	// 2, 4, 8, then MaxPollDelay units (10) and returns to 0 on a command.
	PollUnit     time.Duration
	MaxPollDelay int
	// RestartDelay is the wait before reopening the channels after an
	// error (1 s, rpcChannel.c) and between sessions.
	RestartDelay time.Duration
	// LowBandwidthOnly disables REP INSB/OUTSB transfers.
	LowBandwidthOnly bool
	// Wait sleeps for d or until ctx ends; nil waits on a timer. Tests
	// record the poll delays with it.
	Wait func(ctx context.Context, d time.Duration) error
}

func (o *TCLOOptions) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MethodPrefix == "" {
		o.MethodPrefix = DefaultMethodPrefix
	}
	if o.PollUnit <= 0 {
		o.PollUnit = 10 * time.Millisecond
	}
	if o.MaxPollDelay <= 0 {
		o.MaxPollDelay = 10
	}
	if o.RestartDelay <= 0 {
		o.RestartDelay = time.Second
	}
	if o.Wait == nil {
		o.Wait = sleep
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListenTCLO returns a channel.Listener whose one session at a time is
// the VMX's TCLO command loop on p, translated to guestrpc frames for an
// rpc.Server (see PROTOCOL.md, "TCLO"). Serve it under a policy that
// admits only the toolbox methods (rpc.WithPolicy).
func ListenTCLO(p Port, opts TCLOOptions) channel.Listener {
	opts.defaults()
	return &tcloListener{p: p, opts: opts, closed: make(chan struct{}), free: make(chan struct{}, 1)}
}

type tcloListener struct {
	p         Port
	opts      TCLOOptions
	closed    chan struct{}
	closeOnce sync.Once
	free      chan struct{} // a token: the previous session ended
	started   bool
	mu        sync.Mutex
}

type tcloAddr struct{}

func (tcloAddr) Network() string { return TransportTCLO }
func (tcloAddr) String() string  { return "vmx" }

func (l *tcloListener) Addr() net.Addr { return tcloAddr{} }

func (l *tcloListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Accept yields a session once the previous one has ended (after
// RestartDelay, so a refused session does not spin).
func (l *tcloListener) Accept(ctx context.Context) (channel.Channel, error) {
	l.mu.Lock()
	first := !l.started
	l.started = true
	l.mu.Unlock()
	if !first {
		select {
		case <-l.free:
		case <-l.closed:
			return nil, fmt.Errorf("backdoor: TCLO listener: %w", channel.ErrClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := l.opts.Wait(ctx, l.opts.RestartDelay); err != nil {
			return nil, err
		}
	}
	select {
	case <-l.closed:
		return nil, fmt.Errorf("backdoor: TCLO listener: %w", channel.ErrClosed)
	default:
	}
	return newTCLOConn(l), nil
}

// tcloCommand parses a TCLO command: the name is the text before the
// first space, the argument the rest after that space. It returns the
// reply to send at once when the command cannot name a method.
func tcloCommand(prefix string, msg []byte) (method string, args []byte, reply string) {
	name, rest := msg, []byte(nil)
	for i, c := range msg {
		if c == ' ' {
			name, rest = msg[:i], msg[i+1:]
			break
		}
	}
	switch {
	case len(name) == 0:
		return "", nil, replyBadCommand
	case len(prefix)+len(name) > 256 || !utf8.Valid(name) || hasControl(name):
		return "", nil, replyUnknownCommand
	}
	b, err := json.Marshal(rest) // []byte: a base64 JSON string, exact for any bytes
	if err != nil {
		return "", nil, replyBadCommand
	}
	return prefix + string(name), b, ""
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// tcloReply turns a STATUS into the reply text. A result too large for
// one message becomes an error, so the loop never fails on a reply.
func tcloReply(payload []byte) string {
	st, err := wire.ParseStatus(payload)
	switch {
	case err != nil:
		return replyError + "malformed status"
	case st.Code == codeOK && len(replyOK)+len(st.Result) > MaxMessage:
		return fmt.Sprintf("%sreply of %d bytes exceeds the %d-byte message limit", replyError, len(replyOK)+len(st.Result), MaxMessage)
	case st.Code == codeOK:
		return replyOK + string(st.Result)
	case st.Code == codeUnimplemented:
		return replyUnknownCommand
	}
	return replyError + string(st.Message)
}
