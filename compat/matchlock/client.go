package matchlock

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// MaxMessage caps every reply frame held in memory: ExecResult,
	// a FileResult without content, a Stdout or Stderr chunk (default
	// DefaultMaxMessage).
	MaxMessage uint32
	// MaxFile caps a ReadFile reply, which is streamed (default
	// DefaultMaxWriteFile).
	MaxFile uint32
}

// Client is the host side of matchlock's protocol. Each operation dials
// its own connection, as the protocol carries one request per
// connection; Dial may return any net.Conn — a vsock connection to port
// 5000, a hybrid-vsock unix socket, a test's unix socket — so the client
// drives matchlock's own agent as well as this package's Server.
type Client struct {
	dial func(context.Context) (net.Conn, error)
	opts ClientOptions
}

// NewClient returns a Client that reaches the exec port through dial.
func NewClient(dial func(context.Context) (net.Conn, error), opts ClientOptions) *Client {
	if opts.MaxMessage == 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	if opts.MaxFile == 0 {
		opts.MaxFile = DefaultMaxWriteFile
	}
	return &Client{dial: dial, opts: opts}
}

// call dials, sends a request and runs fn with the connection; canceling
// ctx closes the connection, and fn's error then becomes ctx's.
func (c *Client) call(ctx context.Context, t uint8, req any, fn func(net.Conn) error) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return fmt.Errorf("matchlock: dial: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	p, err := json.Marshal(req)
	if err == nil {
		_, err = conn.Write(AppendFrame(nil, t, p))
	}
	if err == nil {
		err = fn(conn)
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Exec runs req.Command and returns its collected output. A non-zero
// exit is not an error; a command that could not run is a *RemoteError
// (with the response too).
func (c *Client) Exec(ctx context.Context, req ExecRequest) (*ExecResponse, error) {
	var resp ExecResponse
	err := c.call(ctx, MsgExec, req, func(conn net.Conn) error {
		return c.readReply(conn, MsgExecResult, &resp)
	})
	return execDone(&resp, err)
}

// ExecStream runs req.Command, copying its output to stdout and stderr
// (nil: discarded) as it arrives.
func (c *Client) ExecStream(ctx context.Context, req ExecRequest, stdout, stderr io.Writer) (*ExecResponse, error) {
	var resp ExecResponse
	err := c.call(ctx, MsgExecStream, req, func(conn net.Conn) error {
		r := bufio.NewReader(conn)
		for {
			t, p, err := ReadFrame(r, c.opts.MaxMessage)
			if err != nil {
				return fmt.Errorf("matchlock: exec_stream: %w", err)
			}
			switch t {
			case MsgStdout, MsgStderr:
				if err := copyOut(t, p, stdout, stderr); err != nil {
					return err
				}
			case MsgExecResult:
				return decodeJSON(p, &resp)
			default:
				return fmt.Errorf("%w: %s during exec_stream", ErrUnexpected, typeName(t))
			}
		}
	})
	return execDone(&resp, err)
}

func copyOut(t uint8, p []byte, stdout, stderr io.Writer) error {
	w := stdout
	if t == MsgStderr {
		w = stderr
	}
	if w == nil {
		return nil
	}
	if _, err := w.Write(p); err != nil {
		return fmt.Errorf("matchlock: writing %s: %w", typeName(t), err)
	}
	return nil
}

func execDone(resp *ExecResponse, err error) (*ExecResponse, error) {
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return resp, &RemoteError{Op: "exec", Message: resp.Error}
	}
	return resp, nil
}

// readReply reads one frame of type want and decodes its JSON into v.
func (c *Client) readReply(conn net.Conn, want uint8, v any) error {
	t, p, err := ReadFrame(conn, c.opts.MaxMessage)
	if err != nil {
		return fmt.Errorf("matchlock: reply: %w", err)
	}
	if t != want {
		return fmt.Errorf("%w: %s where %s belongs", ErrUnexpected, typeName(t), typeName(want))
	}
	return decodeJSON(p, v)
}

// OpenPortForward asks the guest to connect to host:port (host ""
// means 127.0.0.1) and returns the connection, raw from then on. A
// refusal is a *RemoteError with the guest's reason.
func (c *Client) OpenPortForward(ctx context.Context, host string, port uint16) (net.Conn, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("matchlock: dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	err = openPortForward(conn, host, port, c.opts.MaxMessage)
	if !stop() || err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return conn, nil
}

func openPortForward(conn net.Conn, host string, port uint16, max uint32) error {
	p, err := json.Marshal(PortForwardRequest{Host: host, Port: port})
	if err != nil {
		return fmt.Errorf("matchlock: port_forward: %w", err)
	}
	if _, err := conn.Write(AppendFrame(nil, MsgPortForward, p)); err != nil {
		return fmt.Errorf("matchlock: port_forward: %w", err)
	}
	// Read unbuffered: the bytes after the ACK belong to the caller.
	t, p, err := ReadFrame(conn, max)
	switch {
	case err != nil:
		return fmt.Errorf("matchlock: port_forward: %w", err)
	case t == MsgReady:
		return nil
	case t == MsgStderr:
		return &RemoteError{Op: "port_forward", Message: string(p)}
	}
	return fmt.Errorf("%w: %s in reply to port_forward", ErrUnexpected, typeName(t))
}

// ListFiles lists the guest directory path.
func (c *Client) ListFiles(ctx context.Context, path string) ([]FileInfo, error) {
	var resp FileResponse
	err := c.call(ctx, MsgListFiles, ListFilesRequest{Path: path}, func(conn net.Conn) error {
		return c.readReply(conn, MsgFileResult, &resp)
	})
	if err == nil && resp.Error != "" {
		err = &RemoteError{Op: "list_files", Message: resp.Error}
	}
	if err != nil {
		return nil, err
	}
	return resp.Files, nil
}

// WriteFile writes size bytes read from r to the guest file path (mode 0:
// 0644 for a new file), streaming them into the request frame.
func (c *Client) WriteFile(ctx context.Context, path string, r io.Reader, size int64, mode uint32) error {
	pj, err := json.Marshal(path)
	if err != nil {
		return fmt.Errorf("matchlock: write_file: %w", err)
	}
	prefix := append(append([]byte(`{"path":`), pj...), `,"content":"`...)
	suffix := `","mode":` + strconv.FormatUint(uint64(mode), 10) + `}`
	n := int64(len(prefix)+len(suffix)) + int64(base64.StdEncoding.EncodedLen(int(size)))
	if size < 0 || n > int64(^uint32(0)) {
		return fmt.Errorf("%w: write_file of %d bytes does not fit a frame", ErrFrameTooLarge, size)
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return fmt.Errorf("matchlock: dial: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	w := newFrameWriter(conn, 0)
	err = w.stream(MsgWriteFile, uint32(n), func(w io.Writer) error {
		if _, err := w.Write(prefix); err != nil {
			return err
		}
		enc := base64.NewEncoder(base64.StdEncoding, w)
		if m, err := io.Copy(enc, io.LimitReader(r, size)); err != nil || m != size {
			return fmt.Errorf("matchlock: write_file: read %d of %d bytes: %w", m, size, err)
		}
		if err := enc.Close(); err != nil {
			return err
		}
		_, err := io.WriteString(w, suffix)
		return err
	})
	var resp FileResponse
	if err == nil {
		err = c.readReply(conn, MsgFileResult, &resp)
	}
	if err == nil && resp.Error != "" {
		err = &RemoteError{Op: "write_file", Message: resp.Error}
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ReadFile copies the guest file path to w, decoding the reply as it
// arrives, and returns the number of bytes written.
func (c *Client) ReadFile(ctx context.Context, path string, w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	var resp FileResponse
	err := c.call(ctx, MsgReadFile, ReadFileRequest{Path: path}, func(conn net.Conn) error {
		h, err := ReadHeader(conn, c.opts.MaxFile)
		if err != nil {
			return fmt.Errorf("matchlock: read_file reply: %w", err)
		}
		if h.Type != MsgFileResult {
			return fmt.Errorf("%w: %s in reply to read_file", ErrUnexpected, typeName(h.Type))
		}
		small, _, err := scanObject(io.LimitReader(conn, int64(h.Length)), "content", maxSmallDefault,
			func([]byte) (io.Writer, error) { return cw, nil })
		if err != nil {
			return err
		}
		return decodeJSON(small, &resp)
	})
	if err == nil && resp.Error != "" {
		err = &RemoteError{Op: "read_file", Message: resp.Error}
	}
	return cw.n, err
}
