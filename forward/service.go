package forward

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"

	"github.com/guestrpc/guestrpc/rpc"
)

// methodDial is the method the Service serves and the Client calls.
const methodDial = "net.dial"

// laneEvents carries the "connected" event, guest to host.
const laneEvents rpc.Lane = 2

// dialRequest is the argument of net.dial.
type dialRequest struct {
	Network string `json:"network"` // tcp, tcp4, tcp6 or unix
	Address string `json:"address"`
}

// event is the control message net.dial sends on laneEvents once
// connected: {"type":"connected"}.
type event struct {
	Type string `json:"type"`
}

// Options configure a Service.
type Options struct {
	// Logger receives a debug message per forwarded connection; nil is
	// silent.
	Logger *slog.Logger
}

// Service serves net.dial: it dials addresses inside the guest for the
// host.
type Service struct {
	log    *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
}

// NewService returns a Service.
func NewService(opts Options) (*Service, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{log: log, ctx: ctx, cancel: cancel}, nil
}

// Register adds net.dial to srv.
func (s *Service) Register(srv *rpc.Server) {
	srv.RegisterHandler(methodDial, rpc.HandlerFunc(s.serveDial))
}

// Close refuses new calls and closes the guest side of the connections
// being forwarded: their hosts read EOF, and each call ends with
// Unavailable once its host stops sending (as it does when it closes the
// connection) or the server shuts down.
func (s *Service) Close() error {
	s.cancel()
	return nil
}

// closeWriter is a net.Conn that can half-close (TCP and unix).
type closeWriter interface{ CloseWrite() error }

// serveDial is net.dial: dial an address in the guest and pipe lane 0
// both ways until both directions have ended or the call is canceled.
func (s *Service) serveDial(ctx context.Context, req *rpc.Request) (any, error) {
	var args dialRequest
	if err := req.DecodeArgs(&args); err != nil {
		return nil, err
	}
	switch args.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: network %q: want tcp, tcp4, tcp6 or unix", methodDial, args.Network)
	}
	if args.Address == "" {
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: empty address", methodDial)
	}
	if s.ctx.Err() != nil {
		return nil, rpc.Errorf(rpc.Unavailable, "%s: the forwarding service is closed", methodDial)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	var d net.Dialer
	conn, err := d.DialContext(ctx, args.Network, args.Address)
	if err != nil {
		return nil, s.callErr(ctx, rpc.Errorf(rpc.Unavailable, "%s: %w", methodDial, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	b, _ := json.Marshal(event{Type: "connected"})
	if _, err := req.LaneWriter(laneEvents).Write(b); err != nil {
		return nil, err
	}
	s.log.Debug("forward: connected", "network", args.Network, "address", args.Address)
	up := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, req)
		if cw, ok := conn.(closeWriter); ok && err == nil {
			_ = cw.CloseWrite()
		}
		up <- err
	}()
	_, derr := io.Copy(req, conn)
	_ = req.CloseWrite()
	uerr := <-up
	switch {
	case ctx.Err() != nil:
		return nil, s.callErr(ctx, ctx.Err())
	case derr != nil:
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s %s: reading: %w", methodDial, args.Network, args.Address, derr)
	case uerr != nil:
		return nil, rpc.Errorf(rpc.Unavailable, "%s: %s %s: writing: %w", methodDial, args.Network, args.Address, uerr)
	}
	return nil, nil
}

// callErr is err, or Unavailable if Close ended the call.
func (s *Service) callErr(ctx context.Context, err error) error {
	if s.ctx.Err() != nil && ctx.Err() != nil {
		return rpc.Errorf(rpc.Unavailable, "%s: the forwarding service closed", methodDial)
	}
	return err
}
