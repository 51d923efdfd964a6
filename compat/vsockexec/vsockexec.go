package vsockexec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	mdvsock "github.com/mdlayher/vsock"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/bridge"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// Protocol constants.
const (
	// MaxCommand is the longest command, in bytes.
	MaxCommand = 2048
	// DefaultCID and DefaultPort are where the guest connects by default:
	// the host, port 1024.
	DefaultCID  = 2
	DefaultPort = 1024
	// CIDAny is -1 as vsock_guest_exec's argument (VMADDR_CID_ANY).
	CIDAny = 0xFFFFFFFF
)

// ErrTooLong reports a command longer than MaxCommand.
var ErrTooLong = errors.New("vsockexec: command longer than 2048 bytes")

// ParseAddr parses vsock_guest_exec's "cid:port" argument, keeping the
// default for a field that is missing or invalid (see the package
// documentation).
func ParseAddr(s string) (cid, port uint32) {
	cid, port = DefaultCID, DefaultPort
	cs, ps, hasPort := strings.Cut(s, ":")
	if n, err := strconv.Atoi(cs); err == nil {
		switch n {
		case -1:
			cid = CIDAny
		case 0, 1, 2:
			cid = uint32(n)
		}
	}
	if hasPort {
		if n, err := strconv.Atoi(ps); err == nil && n >= 0 && n <= 65535 {
			port = uint32(n)
		}
	}
	return cid, port
}

// Options configure the guest side.
type Options struct {
	// Server is the agent's rpc.Server; commands are process.start calls
	// on it, admitted by its Policy as the host peer (required).
	Server *rpc.Server
	// Persistent selects persistent mode (length-prefixed commands until
	// the host disconnects); otherwise disposable mode.
	Persistent bool
	// Output receives the commands' stdout and stderr (nil: discarded).
	Output io.Writer
	// Logger gets each command's outcome and each refusal; nil is silent.
	Logger *slog.Logger
	// Token is presented to Server's policy on the host's behalf.
	Token []byte
}

// Run serves conn, a connection the guest opened to the host, in the
// mode opts selects, and closes it. Disposable mode returns after one
// command; persistent mode when the host disconnects (nil) or ctx ends.
func Run(ctx context.Context, conn net.Conn, opts Options) error {
	defer conn.Close()
	if opts.Server == nil {
		return errors.New("vsockexec: Options.Server is nil")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	bc, err := bridge.Open(ctx, opts.Server, channel.PeerOfConn(conn), "vsockexec", opts.Token)
	if err != nil {
		return fmt.Errorf("vsockexec: host refused: %w", err)
	}
	defer bc.Close()
	r := &runner{pc: process.NewClient(bc.Client), log: log}
	if opts.Output != nil {
		r.out = &lockedWriter{w: opts.Output}
	}
	if !opts.Persistent {
		buf := make([]byte, MaxCommand)
		n, err := conn.Read(buf)
		if n == 0 {
			return readErr(ctx, err)
		}
		r.run(ctx, buf[:n])
		return nil
	}
	for {
		cmd, err := ReadCommand(conn)
		if errors.Is(err, ErrTooLong) {
			log.Warn("vsockexec: command skipped", "err", err)
			continue
		}
		if err != nil {
			return readErr(ctx, err)
		}
		r.run(ctx, cmd)
	}
}

func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("vsockexec: reading a command: %w", err)
}

// ReadCommand reads one persistent-mode command: a 2-byte little-endian
// length and that many bytes. A length above MaxCommand fails with
// ErrTooLong after its bytes are read and dropped, so the next command
// can follow; io.EOF means the host disconnected between commands.
func ReadCommand(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(hdr[:]))
	if n > MaxCommand {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, fmt.Errorf("vsockexec: skipping a %d-byte command: %w", n, unexpected(err))
		}
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLong, n)
	}
	cmd := make([]byte, n)
	if _, err := io.ReadFull(r, cmd); err != nil {
		return nil, fmt.Errorf("vsockexec: a %d-byte command: %w", n, unexpected(err))
	}
	return cmd, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendCommand appends cmd in persistent-mode form.
func AppendCommand(b []byte, cmd string) ([]byte, error) {
	if len(cmd) > MaxCommand {
		return b, fmt.Errorf("%w: %d bytes", ErrTooLong, len(cmd))
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cmd)))
	return append(b, cmd...), nil
}

type runner struct {
	pc  *process.Client
	out io.Writer // nil: discarded
	log *slog.Logger
}

// lockedWriter lets stdout and stderr share one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// run runs one command as system(3) would: sh -c, up to the first NUL.
func (r *runner) run(ctx context.Context, cmd []byte) {
	if i := bytes.IndexByte(cmd, 0); i >= 0 {
		cmd = cmd[:i]
	}
	if len(cmd) == 0 {
		return
	}
	res, err := r.pc.Run(ctx, process.Spec{Shell: string(cmd)}, nil, r.out, r.out)
	if res != nil {
		r.log.Info("vsockexec: command ran", "command", string(cmd), "exit_code", res.ExitCode, "signal", res.Signal)
		return
	}
	r.log.Warn("vsockexec: command failed", "command", string(cmd), "err", err)
}

// DialVsock connects to the host at cid:port over AF_VSOCK, as
// vsock_guest_exec does, and runs the connection (see Run). It works
// only inside a guest.
func DialVsock(ctx context.Context, cid, port uint32, opts Options) error {
	c, err := mdvsock.Dial(cid, port, nil)
	if err != nil {
		return fmt.Errorf("vsockexec: connect to %d:%d: %w", cid, port, err)
	}
	return Run(ctx, c, opts)
}
