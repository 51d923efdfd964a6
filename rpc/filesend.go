package rpc

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/wire"
)

// fileSender is implemented by channels that send payloads straight from
// a file (channel.Stream on a socket).
type fileSender interface {
	SendFile(src syscall.Conn) (*channel.FileSender, error)
}

// ReadFrom sends what r yields as DATA on lane 0 until r's EOF, as Write
// would; io.Copy uses it. When r is a regular file (an *os.File, io.Copy's
// wrapper of one, or an *io.LimitedReader of either) and the connection
// is a unix or TCP socket on Linux, the file's bytes go to the socket
// with splice(2) after each frame header, without being copied through
// the agent's memory.
func (c *Request) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	if f, lr := fileOf(r); f != nil {
		var done bool
		var err error
		n, done, err = c.spliceFrom(&c.ctx, f, lr)
		if done || err != nil {
			return n, err
		}
	}
	m, err := io.Copy(writerOnly{c}, r)
	return n + m, err
}

// writerOnly hides a ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// fileOf returns the descriptor r reads, and the limit it reads under.
func fileOf(r io.Reader) (syscall.Conn, *io.LimitedReader) {
	switch v := r.(type) {
	case *io.LimitedReader:
		if f, ok := v.R.(syscall.Conn); ok {
			return f, v
		}
	case syscall.Conn:
		return v, nil
	}
	return nil, nil
}

// spliceFrom sends f (no more than lr.N bytes when lr is set) as DATA
// frames whose payloads the channel splices from the file. done reports
// that it reached the end; otherwise the caller copies the rest, as it
// does when the channel or the file cannot splice.
func (s *streamCore) spliceFrom(ctx context.Context, f syscall.Conn, lr *io.LimitedReader) (n int64, done bool, err error) {
	fsc, ok := s.c.ch.(fileSender)
	if !ok {
		return 0, false, nil
	}
	fs, err := fsc.SendFile(f)
	if err != nil {
		return 0, false, nil
	}
	defer fs.Close()
	frame := wire.Frame{StreamID: s.id, Type: wire.TypeData}
	for {
		want := fs.MaxFill()
		if lr != nil {
			if lr.N <= 0 {
				return n, true, nil
			}
			want = int(min(int64(want), lr.N))
		}
		k, err := s.reserve(ctx, want, errWriteClosed)
		if err != nil {
			return n, true, err
		}
		m, ferr := fs.Fill(k)
		s.unreserve(k - m)
		if ferr != nil {
			return n, false, nil // the file cannot splice: copy it
		}
		if m == 0 {
			return n, true, nil
		}
		if err := s.c.sendFile(fs, &frame); err != nil {
			return n, true, err
		}
		n += int64(m)
		if lr != nil {
			lr.N -= int64(m)
		}
	}
}

// sendFile sends a frame whose payload fs has loaded, as send does.
func (c *conn) sendFile(fs *channel.FileSender, f *wire.Frame) error {
	select {
	case <-c.closed:
		return c.connErr()
	default:
	}
	c.writing.Add(1)
	err := fs.Send(f)
	c.wroteFrame()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		c.close(err)
		return c.connErr()
	}
	return nil
}
