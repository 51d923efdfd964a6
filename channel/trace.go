package channel

import (
	"context"
	"log/slog"
	"net"

	"github.com/guestrpc/guestrpc/wire"
)

// Trace returns a Channel that logs every frame through logger at debug
// level and passes it on to ch. A nil logger returns ch unchanged.
func Trace(ch Channel, logger *slog.Logger) Channel {
	if logger == nil {
		return ch
	}
	return &traced{ch: ch, log: logger}
}

type traced struct {
	ch  Channel
	log *slog.Logger
}

func (t *traced) Send(ctx context.Context, f *wire.Frame) error {
	err := t.ch.Send(ctx, f)
	t.log.LogAttrs(ctx, slog.LevelDebug, "send", frameAttrs(f, err)...)
	return err
}

func (t *traced) Receive(ctx context.Context, f *wire.Frame) error {
	err := t.ch.Receive(ctx, f)
	t.log.LogAttrs(ctx, slog.LevelDebug, "receive", frameAttrs(f, err)...)
	return err
}

func frameAttrs(f *wire.Frame, err error) []slog.Attr {
	if err != nil {
		return []slog.Attr{slog.String("error", err.Error())}
	}
	return []slog.Attr{
		slog.String("type", f.Type.String()),
		slog.Uint64("stream", uint64(f.StreamID)),
		slog.Int("flags", int(f.Flags)),
		slog.Int("len", len(f.Payload)),
	}
}

// ReceiveInterruptible passes on the traced channel's answer.
func (t *traced) ReceiveInterruptible() bool {
	i, ok := t.ch.(Interruptible)
	return ok && i.ReceiveInterruptible()
}

func (t *traced) Close() error         { return t.ch.Close() }
func (t *traced) RemoteAddr() net.Addr { return t.ch.RemoteAddr() }
func (t *traced) MaxPayload() uint32   { return MaxPayload(t.ch) }

// PeerInfo passes on the traced channel's peer: tracing must not turn a
// TCP peer into one the program vouches for.
func (t *traced) PeerInfo() PeerInfo { return PeerOf(t.ch) }
