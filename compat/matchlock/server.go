package matchlock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/bridge"
	"github.com/guestrpc/guestrpc/rpc"
)

// Options configure a Server.
type Options struct {
	// Server is the agent's rpc.Server: every operation is a call to its
	// process.*, file.* and net.dial handlers, admitted by its Policy as
	// the matchlock peer (required).
	Server *rpc.Server
	// Logger receives one line per failed connection; nil is silent.
	Logger *slog.Logger
	// Token is presented to Server's policy on behalf of matchlock
	// peers, whose protocol carries no credentials. Leave it nil unless
	// the transport itself is trusted.
	Token []byte
	// MaxMessage caps every frame held in memory (default
	// DefaultMaxMessage).
	MaxMessage uint32
	// MaxWriteFile caps a WriteFile frame, streamed to disk (default
	// DefaultMaxWriteFile); it also caps a file ReadFile sends.
	MaxWriteFile uint32
	// MaxExecOutput caps what a buffered Exec keeps of stdout and of
	// stderr each (default DefaultMaxExecOutput).
	MaxExecOutput int
	// StallTimeout closes a connection whose peer has not taken a frame
	// for this long (default one minute; negative: never).
	StallTimeout time.Duration
	// TermGrace is how long a command has between SIGTERM and SIGKILL
	// when its host hangs up (default 5s, as matchlock's agent).
	TermGrace time.Duration
	// HeaderTimeout closes a connection whose request header has not
	// arrived this long after it opened (default 30s, as the native
	// handshake; negative: never).
	HeaderTimeout time.Duration
}

// Server is the guest side of matchlock's protocol.
type Server struct {
	opts Options
	log  *slog.Logger
}

// NewServer returns a Server for opts.
func NewServer(opts Options) (*Server, error) {
	if opts.Server == nil {
		return nil, errors.New("matchlock: Options.Server is nil")
	}
	if opts.MaxMessage == 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	if opts.MaxWriteFile == 0 {
		opts.MaxWriteFile = DefaultMaxWriteFile
	}
	if opts.MaxExecOutput <= 0 {
		opts.MaxExecOutput = DefaultMaxExecOutput
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = time.Minute
	}
	if opts.TermGrace <= 0 {
		opts.TermGrace = 5 * time.Second
	}
	if opts.HeaderTimeout == 0 {
		opts.HeaderTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log}, nil
}

// Serve serves the exec port on l until ctx ends or l fails, each
// connection in its own goroutine; it closes l and waits for the
// connections before it returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serveListener(ctx, l, func(ctx context.Context, c net.Conn) {
		if err := s.ServeConn(ctx, c); err != nil {
			s.log.Warn("matchlock: connection failed", "addr", c.RemoteAddr(), "err", err)
		}
	})
}

// ServeReady serves the ready port on l: it accepts each connection and
// closes it, which tells matchlock's host that the agent is up. Start it
// once the exec port is listening.
func ServeReady(ctx context.Context, l net.Listener) error {
	return serveListener(ctx, l, func(_ context.Context, c net.Conn) { _ = c.Close() })
}

func serveListener(ctx context.Context, l net.Listener, serve func(context.Context, net.Conn)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			_ = l.Close()
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("matchlock: accept: %w", err)
		}
		wg.Go(func() { serve(ctx, c) })
	}
}

// conn is one served connection.
type conn struct {
	srv *Server
	c   net.Conn
	br  *bufio.Reader
	w   *frameWriter
	rpc *bridge.Conn
	wg  sync.WaitGroup // goroutines reading c
}

// ServeConn serves the one request a matchlock connection carries and
// closes c. A request the agent refuses (policy, caps, malformed JSON,
// an unknown type) is answered in the form its type expects — an
// ExecResult or FileResult with Error, Stderr then Exit(1), or Stderr
// alone — and the error is returned.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	cc := &conn{srv: s, c: c, br: bufio.NewReaderSize(c, 32<<10), w: newFrameWriter(c, s.opts.StallTimeout)}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer func() {
		stop()
		_ = c.Close()
		cc.wg.Wait()
		cancel()
	}()
	if s.opts.HeaderTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(s.opts.HeaderTimeout))
	}
	h, err := ReadHeader(cc.br, ^uint32(0))
	if err != nil {
		return fmt.Errorf("matchlock: request: %w", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if err := s.checkRequest(h); err != nil {
		cc.fail(h.Type, err)
		return err
	}
	peer := channel.PeerOfConn(c)
	cc.rpc, err = bridge.Open(ctx, s.opts.Server, peer, "matchlock", s.opts.Token)
	if err != nil {
		err = fmt.Errorf("matchlock: %s peer refused: %w", peer.Transport, err)
		cc.fail(h.Type, err)
		return err
	}
	defer cc.rpc.Close()
	if h.Type == MsgWriteFile {
		err = cc.writeFile(ctx, h)
	} else {
		err = cc.dispatch(ctx, h)
	}
	if err != nil {
		return fmt.Errorf("matchlock: %s: %w", typeName(h.Type), err)
	}
	return nil
}

func (s *Server) checkRequest(h Header) error {
	limit := s.opts.MaxMessage
	switch h.Type {
	case MsgExec, MsgExecStream, MsgExecPipe, MsgExecTTY, MsgPortForward, MsgReadFile, MsgListFiles:
	case MsgWriteFile:
		limit = s.opts.MaxWriteFile
	default:
		return fmt.Errorf("%w: %s does not start a request", ErrUnexpected, typeName(h.Type))
	}
	if h.Length > limit {
		return fmt.Errorf("%w: %s of %d bytes, cap %d", ErrFrameTooLarge, typeName(h.Type), h.Length, limit)
	}
	return nil
}

func (cc *conn) dispatch(ctx context.Context, h Header) error {
	p, err := readPayload(cc.br, h)
	if err != nil {
		return err
	}
	switch h.Type {
	case MsgExec, MsgExecStream:
		var req ExecRequest
		if err := decodeJSON(p, &req); err != nil {
			cc.fail(h.Type, err)
			return err
		}
		return cc.execBatch(ctx, h.Type, &req)
	case MsgExecPipe:
		var req ExecRequest
		if err := decodeJSON(p, &req); err != nil {
			cc.fail(h.Type, err)
			return err
		}
		return cc.execInteractive(ctx, h.Type, specOf(&req))
	case MsgExecTTY:
		var req ExecTTYRequest
		if err := decodeJSON(p, &req); err != nil {
			cc.fail(h.Type, err)
			return err
		}
		return cc.execInteractive(ctx, h.Type, ttySpecOf(&req))
	case MsgPortForward:
		return cc.portForward(ctx, p)
	case MsgReadFile:
		return cc.readFile(ctx, p)
	default: // MsgListFiles; checkRequest refused the others
		return cc.listFiles(ctx, p)
	}
}

func decodeJSON(p []byte, v any) error {
	if err := json.Unmarshal(p, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return nil
}

// fail answers a refused request in the form its type expects.
func (cc *conn) fail(t uint8, err error) {
	msg := err.Error()
	switch t {
	case MsgExec, MsgExecStream:
		cc.sendJSON(MsgExecResult, ExecResponse{ExitCode: 1, Error: msg})
	case MsgExecPipe, MsgExecTTY:
		_ = cc.w.send(MsgStderr, []byte(msg+"\n"))
		_ = cc.w.send(MsgExit, EncodeExit(1))
	case MsgWriteFile, MsgReadFile, MsgListFiles:
		cc.sendJSON(MsgFileResult, FileResponse{Error: msg})
	default:
		_ = cc.w.send(MsgStderr, []byte(msg))
	}
}

func (cc *conn) sendJSON(t uint8, v any) {
	p, err := json.Marshal(v)
	if err == nil {
		err = cc.w.send(t, p)
	}
	if err != nil {
		cc.srv.log.Debug("matchlock: reply not sent", "type", typeName(t), "err", err)
	}
}

func typeName(t uint8) string {
	switch t {
	case MsgExec:
		return "Exec"
	case MsgExecResult:
		return "ExecResult"
	case MsgStdout:
		return "Stdout"
	case MsgStderr:
		return "Stderr"
	case MsgSignal:
		return "Signal"
	case MsgReady:
		return "Ready"
	case MsgStdin:
		return "Stdin"
	case MsgResize:
		return "Resize"
	case MsgExecTTY:
		return "ExecTTY"
	case MsgExit:
		return "Exit"
	case MsgExecStream:
		return "ExecStream"
	case MsgExecPipe:
		return "ExecPipe"
	case MsgPortForward:
		return "PortForward"
	case MsgWriteFile:
		return "WriteFile"
	case MsgReadFile:
		return "ReadFile"
	case MsgListFiles:
		return "ListFiles"
	case MsgFileResult:
		return "FileResult"
	}
	return fmt.Sprintf("type %d", t)
}
