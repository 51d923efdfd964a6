package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/guestrpc/guestrpc/channel"
)

// The floors cross the same process boundary as the agents: a child
// process (this program run with -floor-child) listens on a unix socket
// and serves each connection in the mode its first byte names.
const (
	modeEcho     = 'e' // echo every 16-byte message back
	modeUpload   = 'u' // 8-byte length, then that many bytes into a new file, fsync, ack 1 byte
	modeDownload = 'd' // each byte asks for the download file, sent with sendfile
	modeExec     = 'x' // each byte asks for one os/exec run of /bin/true, output captured; answered with its exit code
	// The transfer modes again, with both ends of the socket asking for
	// the send buffer guestrpc's streams ask for.
	modeUploadBuf   = 'U'
	modeDownloadBuf = 'D'
	pingSize        = 16
)

// serveFloor is the child: it serves sock until killed. Uploads land in
// dir/floor-up; downloads send the file download.
func serveFloor(sock, dir, download string) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	defer l.Close()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if err := serveFloorConn(c, dir, download); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "floor child: %v\n", err)
			}
		}()
	}
}

func serveFloorConn(c net.Conn, dir, download string) error {
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		return err
	}
	if mode[0] == modeUploadBuf || mode[0] == modeDownloadBuf {
		if err := bigSendBuffer(c); err != nil {
			return err
		}
		mode[0] += 'a' - 'A'
	}
	switch mode[0] {
	case modeEcho:
		var buf [pingSize]byte
		for {
			if _, err := io.ReadFull(c, buf[:]); err != nil {
				return err
			}
			if _, err := c.Write(buf[:]); err != nil {
				return err
			}
		}
	case modeUpload:
		for {
			if err := floorReceive(c, filepath.Join(dir, "floor-up")); err != nil {
				return err
			}
		}
	case modeExec:
		var out, errb bytes.Buffer
		for {
			if _, err := io.ReadFull(c, mode[:]); err != nil {
				return err
			}
			if err := floorExec(c, "/bin/true", &out, &errb); err != nil {
				return err
			}
		}
	case modeDownload:
		for {
			if _, err := io.ReadFull(c, mode[:]); err != nil {
				return err
			}
			if err := floorSend(c, download); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("unknown mode %q", mode[0])
}

// floorReceive reads one length-prefixed upload into a new file at
// path, fsyncs it and acknowledges with one byte.
func floorReceive(c net.Conn, path string) error {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint64(hdr[:]))
	_ = os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	// *os.File's ReadFrom splices from the socket where it can.
	if _, err := io.CopyN(f, c, n); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = c.Write([]byte{1})
	return err
}

// floorExec runs path as the agent's process.start does for the bench
// (stdout and stderr captured through pipes) and answers with its exit
// code.
func floorExec(c net.Conn, path string, out, errb *bytes.Buffer) error {
	out.Reset()
	errb.Reset()
	cmd := exec.Command(path)
	cmd.Stdout, cmd.Stderr = out, errb
	code := byte(0)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return err
		}
		code = byte(ee.ExitCode())
	}
	_, err := c.Write([]byte{code})
	return err
}

// floorSend sends the file at path; io.Copy from an *os.File into a
// socket is sendfile(2) on Linux.
func floorSend(c net.Conn, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(c, f)
	return err
}

// bigSendBuffer asks for the send buffer channel.Stream asks for on a
// unix socket.
func bigSendBuffer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("floor: %T is not a unix socket", c)
	}
	return uc.SetWriteBuffer(channel.DefaultUnixWriteBuffer)
}

// floorConn is the parent's end of one floor connection.
type floorConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func dialFloor(sock string, mode byte) (*floorConn, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	if mode == modeUploadBuf || mode == modeDownloadBuf {
		if err := bigSendBuffer(c); err != nil {
			c.Close()
			return nil, err
		}
	}
	if _, err := c.Write([]byte{mode}); err != nil {
		c.Close()
		return nil, err
	}
	return &floorConn{c: c, buf: make([]byte, 256<<10)}, nil
}

func (f *floorConn) Close() error { return f.c.Close() }

// ping sends 16 bytes and reads them back.
func (f *floorConn) ping() error {
	msg := f.buf[:pingSize]
	if _, err := f.c.Write(msg); err != nil {
		return err
	}
	_, err := io.ReadFull(f.c, msg)
	return err
}

// upload sends data and waits for the child to have it on disk.
func (f *floorConn) upload(data []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(len(data)))
	if _, err := f.c.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := f.c.Write(data); err != nil {
		return err
	}
	_, err := io.ReadFull(f.c, hdr[:1])
	return err
}

// exec asks the child for one run of /bin/true and waits for its exit
// code.
func (f *floorConn) exec() error {
	if _, err := f.c.Write([]byte{modeExec}); err != nil {
		return err
	}
	if _, err := io.ReadFull(f.c, f.buf[:1]); err != nil {
		return err
	}
	if f.buf[0] != 0 {
		return fmt.Errorf("/bin/true in the floor child exited with %d", f.buf[0])
	}
	return nil
}

// download asks for the file and reads size bytes of it.
func (f *floorConn) download(size int64) error {
	if _, err := f.c.Write([]byte{modeDownload}); err != nil {
		return err
	}
	for size > 0 {
		n, err := f.c.Read(f.buf[:min(int64(len(f.buf)), size)])
		size -= int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}
