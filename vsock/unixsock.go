package vsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/channel"
)

// ErrRefused is returned when the hypervisor's socket turns a connection
// down (no guest listener on the port, or a malformed request).
var ErrRefused = errors.New("vsock: connection refused by the hypervisor")

// maxReplyLine caps the hybrid handshake reply ("OK 4294967295\n" is 14
// bytes); anything longer is not the protocol.
const maxReplyLine = 64

// DialHybrid connects to guest port through a Firecracker or Cloud
// Hypervisor vsock unix socket: it sends "CONNECT <port>\n" and expects
// "OK <assigned port>\n" before the stream starts. ctx bounds the dial and
// the handshake.
func DialHybrid(ctx context.Context, uds string, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	c, err := dialUnix(ctx, uds)
	if err != nil {
		return nil, fmt.Errorf("vsock: hybrid %s port %d: %w", uds, port, err)
	}
	if err := hybridHandshake(ctx, c, port); err != nil {
		c.Close()
		return nil, fmt.Errorf("vsock: hybrid %s port %d: %w", uds, port, err)
	}
	// The peer is the guest behind the hypervisor's socket; its context
	// ID is not on the socket.
	return channel.NewStreamPeer(c, opts, channel.PeerInfo{Transport: channel.TransportVsock}), nil
}

func hybridHandshake(ctx context.Context, c net.Conn, port uint32) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(c, "CONNECT %d\n", port); err != nil {
		return err
	}
	// Read byte by byte: what follows the newline is already the guest's.
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := c.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
			if len(line) > maxReplyLine {
				return fmt.Errorf("handshake reply longer than %d bytes: %q", maxReplyLine, line)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if len(line) == 0 {
				return fmt.Errorf("%w (socket closed before the OK reply: no listener on the guest port?)", ErrRefused)
			}
			return fmt.Errorf("handshake reply %q cut short: %w", line, err)
		}
	}
	if err := parseHybridReply(line); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// parseHybridReply checks the line (without its newline) that answers
// CONNECT: "OK <port>".
func parseHybridReply(line []byte) error {
	rest, ok := strings.CutPrefix(string(line), "OK ")
	if !ok {
		return fmt.Errorf("%w: reply %q, want \"OK <port>\"", ErrRefused, line)
	}
	if _, err := strconv.ParseUint(rest, 10, 32); err != nil {
		return fmt.Errorf("handshake reply %q: bad port: %w", line, err)
	}
	return nil
}

// ListenHybrid accepts the connections a guest opens to host port through
// a Firecracker or Cloud Hypervisor vsock device whose unix socket is
// uds: they arrive on the socket "<uds>_<port>".
func ListenHybrid(uds string, port uint32, opts channel.StreamOptions) (*channel.NetListener, error) {
	return channel.ListenUnix(HybridListenPath(uds, port), opts)
}

// HybridListenPath is the unix socket on which guest connections to host
// port arrive.
func HybridListenPath(uds string, port uint32) string {
	return uds + "_" + strconv.FormatUint(uint64(port), 10)
}

// HyperkitSocket returns the name of the socket in a hyperkit state
// directory for cid and port: "%08x.%08x".
func HyperkitSocket(dir string, cid, port uint32) string {
	return filepath.Join(dir, fmt.Sprintf("%08x.%08x", cid, port))
}

// DialHyperkit connects to port on the guest with context ID cid through
// a hyperkit virtio-sock state directory. A forwarded port (hyperkit's
// guest_forwards) has its own socket, used when present; otherwise the
// request "%08x.%08x\n" is written to the directory's "connect" socket,
// after which the stream is the guest's.
func DialHyperkit(ctx context.Context, dir string, cid, port uint32, opts channel.StreamOptions) (*channel.Stream, error) {
	peer := channel.PeerInfo{Transport: channel.TransportVsock, HasCID: true, CID: cid}
	if c, err := dialUnix(ctx, HyperkitSocket(dir, cid, port)); err == nil {
		return channel.NewStreamPeer(c, opts, peer), nil
	}
	connect := filepath.Join(dir, "connect")
	c, err := dialUnix(ctx, connect)
	if err != nil {
		return nil, fmt.Errorf("vsock: hyperkit %s: %w", dir, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "%08x.%08x\n", cid, port); err != nil {
		c.Close()
		return nil, fmt.Errorf("vsock: hyperkit %s: request %d:%d: %w", connect, cid, port, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return channel.NewStreamPeer(c, opts, peer), nil
}

// ListenHyperkit accepts the connections a hyperkit guest opens to host
// port: they arrive on the socket "00000002.<port in hex>" in dir.
func ListenHyperkit(dir string, port uint32, opts channel.StreamOptions) (*channel.NetListener, error) {
	return channel.ListenUnix(HyperkitSocket(dir, CIDHost, port), opts)
}

func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
