package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
)

// QGAExecStatus is guest-exec-status's reply (output members ignored).
type QGAExecStatus struct {
	Exited   bool `json:"exited"`
	ExitCode *int `json:"exitcode"`
	Signal   *int `json:"signal"`
}

// Exec runs path with args through guest-exec, capturing its output as
// guestrpc's exec does, and polls guest-exec-status back to back until
// the process has exited; it returns the exit status and the number of
// status polls.
func (q *QGA) Exec(ctx context.Context, path string, args []string) (QGAExecStatus, int, error) {
	var started struct {
		PID *int64 `json:"pid"`
	}
	req := map[string]any{"path": path, "capture-output": true}
	if len(args) > 0 {
		req["arg"] = args
	}
	if err := q.Call(ctx, "guest-exec", req, &started); err != nil {
		return QGAExecStatus{}, 0, err
	}
	if started.PID == nil {
		return QGAExecStatus{}, 0, fmt.Errorf("%w: guest-exec %s: no pid", ErrQGAReply, path)
	}
	for polls := 1; ; polls++ {
		var st QGAExecStatus
		if err := q.Call(ctx, "guest-exec-status", map[string]int64{"pid": *started.PID}, &st); err != nil {
			return st, polls, err
		}
		if st.Exited {
			return st, polls, nil
		}
	}
}

// fileWrite marshals guest-file-write's arguments without the cost of
// escaping a megabyte of base64 through encoding/json.
type fileWrite struct {
	handle int64
	data   []byte
}

func (w fileWrite) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 40+base64.StdEncoding.EncodedLen(len(w.data)))
	out = fmt.Appendf(out, `{"handle":%d,"buf-b64":"`, w.handle)
	out = base64.StdEncoding.AppendEncode(out, w.data)
	return append(out, '"', '}'), nil
}

type qgaRW struct {
	Count int    `json:"count"`
	Buf   string `json:"buf-b64"`
	EOF   bool   `json:"eof"`
}

// Upload writes what r holds to path through guest-file-open (mode
// "w"), guest-file-write in chunks of chunk bytes (base64 on the wire)
// and guest-file-close. It returns the bytes written.
func (q *QGA) Upload(ctx context.Context, path string, r io.Reader, chunk int) (int64, error) {
	h, err := q.open(ctx, path, "w")
	if err != nil {
		return 0, err
	}
	n, err := q.writeAll(ctx, h, r, chunk)
	if cerr := q.Call(ctx, "guest-file-close", map[string]int64{"handle": h}, nil); err == nil {
		err = cerr
	}
	return n, err
}

func (q *QGA) writeAll(ctx context.Context, h int64, r io.Reader, chunk int) (int64, error) {
	buf := make([]byte, chunk)
	var total int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			var res qgaRW
			if err := q.Call(ctx, "guest-file-write", fileWrite{h, buf[:n]}, &res); err != nil {
				return total, err
			}
			if res.Count != n {
				return total, fmt.Errorf("%w: guest-file-write of %d bytes wrote %d", ErrQGAReply, n, res.Count)
			}
			total += int64(n)
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, rerr
		}
	}
}

// Download copies path into w through guest-file-open (mode "r"),
// guest-file-read of chunk bytes at a time until eof, and
// guest-file-close. It returns the bytes copied.
func (q *QGA) Download(ctx context.Context, path string, w io.Writer, chunk int) (int64, error) {
	h, err := q.open(ctx, path, "r")
	if err != nil {
		return 0, err
	}
	n, err := q.readAll(ctx, h, w, chunk)
	if cerr := q.Call(ctx, "guest-file-close", map[string]int64{"handle": h}, nil); err == nil {
		err = cerr
	}
	return n, err
}

func (q *QGA) readAll(ctx context.Context, h int64, w io.Writer, chunk int) (int64, error) {
	var total int64
	buf := make([]byte, base64.StdEncoding.DecodedLen(base64.StdEncoding.EncodedLen(chunk)))
	for {
		var res qgaRW
		if err := q.Call(ctx, "guest-file-read", map[string]int64{"handle": h, "count": int64(chunk)}, &res); err != nil {
			return total, err
		}
		if base64.StdEncoding.DecodedLen(len(res.Buf)) > len(buf) {
			return total, fmt.Errorf("%w: guest-file-read of %d bytes sent %d base64 characters", ErrQGAReply, chunk, len(res.Buf))
		}
		n, err := base64.StdEncoding.Decode(buf, []byte(res.Buf))
		if err != nil {
			return total, fmt.Errorf("%w: guest-file-read: %w", ErrQGAReply, err)
		}
		if n != res.Count {
			return total, fmt.Errorf("%w: guest-file-read says %d bytes, sent %d", ErrQGAReply, res.Count, n)
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return total, err
		}
		total += int64(n)
		if res.EOF || n == 0 {
			return total, nil
		}
	}
}

func (q *QGA) open(ctx context.Context, path, mode string) (int64, error) {
	var h int64
	if err := q.Call(ctx, "guest-file-open", map[string]string{"path": path, "mode": mode}, &h); err != nil {
		return 0, err
	}
	return h, nil
}
