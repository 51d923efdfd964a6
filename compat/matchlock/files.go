package matchlock

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/forward"
)

const (
	contentPrefix = `{"content":"`
	contentSuffix = `"}`
	permBits      = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
)

// upload is a WriteFile's content on its way to file.write.
type upload struct {
	path      string
	existed   bool
	modeKnown bool
	pw        *io.PipeWriter
	done      chan error
}

// start begins file.write for req, whose Content is still to come. A
// new file is created 0600 unless its mode is already known, and given
// its mode once written, so it is never readable by more than asked.
func (u *upload) start(ctx context.Context, fc *files.Client, req WriteFileRequest) (io.Writer, error) {
	if req.Path == "" {
		return nil, fmt.Errorf("%w: write_file without a path before its content", ErrBadPayload)
	}
	_, statErr := fc.Stat(ctx, req.Path)
	u.path, u.existed = req.Path, statErr == nil
	opts := files.WriteOptions{Flag: files.Overwrite, Parents: true}
	if !u.existed {
		opts.Mode = 0o600
		if req.Mode != 0 {
			opts.Mode, u.modeKnown = fs.FileMode(req.Mode)&permBits, true
		}
	}
	pr, pw := io.Pipe()
	u.pw, u.done = pw, make(chan error, 1)
	go func() {
		_, err := fc.Upload(ctx, pr, req.Path, opts)
		pr.CloseWithError(fmt.Errorf("matchlock: write_file %q ended: %w", req.Path, err))
		u.done <- err
	}()
	return pw, nil
}

// finish ends the upload: abort (the old file stays) when err is set.
func (u *upload) finish(err error) error {
	if u.pw == nil {
		return err
	}
	if err != nil {
		u.pw.CloseWithError(err)
		<-u.done
		return err
	}
	_ = u.pw.Close()
	return <-u.done
}

// writeFile serves WriteFile, streaming the base64 content out of the
// frame into file.write (an atomic replace) without holding it.
func (cc *conn) writeFile(ctx context.Context, h Header) error {
	fc := files.NewClient(cc.rpc.Client)
	var up upload
	small, _, err := scanObject(io.LimitReader(cc.br, int64(h.Length)), "content", maxSmallDefault,
		func(small []byte) (io.Writer, error) {
			var req WriteFileRequest
			if err := decodeJSON(small, &req); err != nil {
				return nil, err
			}
			return up.start(ctx, fc, req)
		})
	var req WriteFileRequest
	if err == nil {
		err = decodeJSON(small, &req)
	}
	if err == nil && up.pw == nil {
		// No "content" member: an empty file, or the content under a
		// name that differs in case, which encoding/json also takes.
		if _, err = up.start(ctx, fc, req); err == nil {
			_, err = up.pw.Write(req.Content)
		}
	}
	err = up.finish(err)
	if err == nil && !up.existed && !up.modeKnown {
		mode := fs.FileMode(req.Mode) & permBits
		if mode == 0 {
			mode = 0o644
		}
		err = fc.Chmod(ctx, up.path, mode)
	}
	if err != nil {
		cc.fail(MsgWriteFile, err)
		return err
	}
	cc.sendJSON(MsgFileResult, FileResponse{})
	return nil
}

// readFile serves ReadFile: the reply's length is known from the file's
// size, so the content is streamed out of file.read through a base64
// encoder into the frame. A file that shrinks meanwhile cannot fill the
// announced frame: the connection is closed and the host sees a
// truncated frame rather than wrong bytes.
func (cc *conn) readFile(ctx context.Context, p []byte) error {
	var req ReadFileRequest
	if err := decodeJSON(p, &req); err != nil {
		cc.fail(MsgReadFile, err)
		return err
	}
	fc := files.NewClient(cc.rpc.Client)
	fi, err := fc.Stat(ctx, req.Path)
	if err == nil && !fi.Mode.IsRegular() {
		err = fmt.Errorf("read_file only supports regular files: %s", req.Path)
	}
	if err == nil && fi.Size > 0 {
		if n := int64(len(contentPrefix)+len(contentSuffix)) + int64(base64.StdEncoding.EncodedLen(int(fi.Size))); n > int64(cc.srv.opts.MaxWriteFile) {
			err = fmt.Errorf("%w: read_file %s: a %d-byte reply exceeds the cap %d", ErrFrameTooLarge, req.Path, n, cc.srv.opts.MaxWriteFile)
		}
	}
	if err != nil {
		cc.fail(MsgReadFile, err)
		return err
	}
	if fi.Size == 0 {
		// Empty, or a file whose size says nothing (/proc, /sys): read
		// what there is, up to MaxMessage, as matchlock's agent does.
		return cc.readSmall(ctx, fc, req.Path)
	}
	n := uint32(len(contentPrefix)+len(contentSuffix)) + uint32(base64.StdEncoding.EncodedLen(int(fi.Size)))
	return cc.w.stream(MsgFileResult, n, func(w io.Writer) error {
		if _, err := io.WriteString(w, contentPrefix); err != nil {
			return err
		}
		enc := base64.NewEncoder(base64.StdEncoding, w)
		if _, err := fc.Download(ctx, req.Path, enc, files.ReadOptions{Length: fi.Size}); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		_, err := io.WriteString(w, contentSuffix)
		return err
	})
}

func (cc *conn) readSmall(ctx context.Context, fc *files.Client, path string) error {
	limit := int64(cc.srv.opts.MaxMessage) / 2 // base64 and JSON must fit MaxMessage
	var buf bytes.Buffer
	w := &limitedWriter{w: &buf, n: limit}
	if _, err := fc.Download(ctx, path, w, files.ReadOptions{}); err != nil {
		if w.over {
			err = fmt.Errorf("%w: read_file %s: more than %d bytes in a file whose size is 0", ErrFrameTooLarge, path, limit)
		}
		cc.fail(MsgReadFile, err)
		return err
	}
	cc.sendJSON(MsgFileResult, FileResponse{Content: buf.Bytes()})
	return nil
}

// limitedWriter fails once more than n bytes are written.
type limitedWriter struct {
	w    io.Writer
	n    int64
	over bool
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		l.over = true
		return 0, ErrFrameTooLarge
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

func (cc *conn) listFiles(ctx context.Context, p []byte) error {
	var req ListFilesRequest
	if err := decodeJSON(p, &req); err != nil {
		cc.fail(MsgListFiles, err)
		return err
	}
	list, err := files.NewClient(cc.rpc.Client).List(ctx, req.Path)
	if err != nil {
		cc.fail(MsgListFiles, err)
		return err
	}
	resp := FileResponse{Files: make([]FileInfo, 0, len(list))}
	for _, fi := range list {
		resp.Files = append(resp.Files, FileInfo{Name: fi.Name, Size: fi.Size, Mode: uint32(fi.Mode), IsDir: fi.IsDir()})
	}
	cc.sendJSON(MsgFileResult, resp)
	return nil
}

// portForward serves PortForward: net.dial to the address, Ready (the
// ACK, empty) and raw bytes both ways; a refusal is one Stderr frame
// with the reason, then the connection closes.
func (cc *conn) portForward(ctx context.Context, p []byte) error {
	var req PortForwardRequest
	if err := decodeJSON(p, &req); err != nil {
		err = fmt.Errorf("invalid port-forward request: %w", err)
		cc.fail(MsgPortForward, err)
		return err
	}
	host := req.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if req.Port == 0 {
		err := fmt.Errorf("%w: invalid remote port 0", ErrBadPayload)
		cc.fail(MsgPortForward, err)
		return err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(req.Port)))
	tc, err := forward.NewClient(cc.rpc.Client).Dial(ctx, "tcp", addr)
	if err != nil {
		err = fmt.Errorf("connect %s failed: %w", addr, err)
		cc.fail(MsgPortForward, err)
		return err
	}
	defer tc.Close()
	if err := cc.w.send(MsgReady, nil); err != nil {
		return err
	}
	_ = cc.c.SetWriteDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = tc.Close() })
	defer stop()
	proxy(cc.c, cc.br, tc)
	return nil
}

// proxy copies both ways; when one direction ends it half-closes the
// other side's write end (or closes both where that is impossible), and
// returns when both have ended.
func proxy(host net.Conn, fromHost io.Reader, guest net.Conn) {
	var wg sync.WaitGroup
	oneWay := func(dst net.Conn, src io.Reader) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
			_ = host.Close()
			_ = guest.Close()
		}
	}
	wg.Go(func() { oneWay(guest, fromHost) })
	wg.Go(func() { oneWay(host, guest) })
	wg.Wait()
}
