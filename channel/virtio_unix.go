//go:build linux || darwin || freebsd

package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/wire"
)

// VirtioListener serves a virtio-console port. A port is one byte pipe to
// whoever holds the host end (the QEMU chardev socket), so the listener
// yields one session at a time: Accept waits until a host is connected and
// has sent data, and the next Accept waits for the previous session to end.
type VirtioListener struct {
	f    *os.File
	addr VirtioAddr
	opts VirtioOptions

	polls atomic.Int64 // polls that found no host; tests check the back-off

	mu      sync.Mutex
	session *virtioSession // current session, nil between sessions
	hello   *wire.Frame    // a HELLO that ended the previous session, for the next
	resync  bool           // the previous session lost frame sync
	closed  bool
	done    chan struct{} // closed by Close
}

// ListenVirtio opens the virtio-console port called name (see
// FindVirtioPort) and returns a Listener for host sessions on it.
func ListenVirtio(name string, opts VirtioOptions) (*VirtioListener, error) {
	opts.defaults()
	path, err := FindVirtioPort(name, opts)
	if err != nil {
		return nil, err
	}
	l, err := OpenVirtioDevice(path, opts)
	if err != nil {
		return nil, err
	}
	l.addr.Name = name
	return l, nil
}

// OpenVirtioDevice returns a Listener over an already known character
// device path. Anything that behaves like a virtio-console port works: the
// device reads EOF (or EIO) and polls POLLHUP while no peer is attached,
// as a pty master does while its slave is closed.
func OpenVirtioDevice(path string, opts VirtioOptions) (*VirtioListener, error) {
	opts.defaults()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("channel: open virtio port %s: %w", path, err)
	}
	return newVirtioListener(os.NewFile(uintptr(fd), path), VirtioAddr{Name: path, Path: path}, opts), nil
}

func newVirtioListener(f *os.File, addr VirtioAddr, opts VirtioOptions) *VirtioListener {
	opts.defaults()
	return &VirtioListener{f: f, addr: addr, opts: opts, done: make(chan struct{})}
}

// Addr returns the port's address.
func (l *VirtioListener) Addr() net.Addr { return l.addr }

// Close ends the current session and releases the device.
func (l *VirtioListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	s := l.session
	close(l.done)
	l.mu.Unlock()
	if s != nil {
		s.abort()
		s.wait()
	}
	return l.f.Close()
}

// Accept waits for the current session to end and then for a host to
// connect and send its first bytes.
func (l *VirtioListener) Accept(ctx context.Context) (Channel, error) {
	l.mu.Lock()
	prev := l.session
	l.mu.Unlock()
	if prev != nil {
		select {
		case <-prev.ended:
		case <-l.done:
			return nil, fmt.Errorf("channel: accept on %v: %w", l.addr, ErrClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		prev.wait()
	}
	if err := l.waitForHost(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("channel: accept on %v: %w", l.addr, ErrClosed)
	}
	// Deadlines left by the previous session's abort must not end this one.
	_ = l.f.SetDeadline(time.Time{})
	s := &virtioSession{f: l.f, addr: l.addr, ended: make(chan struct{})}
	var r io.Reader = s
	if l.resync && l.hello == nil {
		r = &helloScanner{r: s}
	}
	l.session = s
	ch := &virtioChannel{Stream: NewStream(readWriteCloser{r, s}, l.opts.StreamOptions), s: s, l: l, pending: l.hello}
	l.hello, l.resync = nil, false
	return ch, nil
}

// waitForHost polls the port until data is readable without a hang-up.
// While the host is away every poll returns POLLHUP at once, so the wait
// between polls grows from MinBackoff to MaxBackoff.
func (l *VirtioListener) waitForHost(ctx context.Context) error {
	backoff := l.opts.MinBackoff
	raw, err := l.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("channel: virtio port %v: %w", l.addr, err)
	}
	for {
		select {
		case <-l.done:
			return fmt.Errorf("channel: accept on %v: %w", l.addr, ErrClosed)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		l.mu.Lock()
		pending := l.hello != nil
		l.mu.Unlock()
		if pending {
			return nil // the new host's HELLO has already arrived
		}
		var revents int16
		var perr error
		cerr := raw.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			// A bounded timeout lets Close and ctx be noticed while a host
			// is attached but silent.
			_, perr = unix.Poll(fds, 100)
			revents = fds[0].Revents
		})
		if cerr != nil {
			return fmt.Errorf("channel: accept on %v: %w", l.addr, ErrClosed)
		}
		if perr != nil && !errors.Is(perr, unix.EINTR) {
			return fmt.Errorf("channel: poll virtio port %v: %w", l.addr, perr)
		}
		switch {
		case revents&unix.POLLNVAL != 0:
			return fmt.Errorf("channel: accept on %v: %w", l.addr, ErrClosed)
		case revents&(unix.POLLHUP|unix.POLLERR) != 0:
			l.polls.Add(1)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
			}
			backoff = min(backoff*2, l.opts.MaxBackoff)
		case revents&unix.POLLIN != 0:
			return nil
		}
	}
}

// virtioSession is the byte stream of one host session on the shared
// device. It tracks its in-flight reads and writes so that the next
// session starts only when none of them can still consume its bytes.
type virtioSession struct {
	f    *os.File
	addr VirtioAddr
	raw  syscall.RawConn // f's, for readv (Linux)
	iov  [][]byte        // readv's iovecs, kept between reads

	wonce sync.Once
	wraw  syscall.RawConn // f's for tryWrite; nil when f blocks

	mu       sync.Mutex
	inflight int
	aborted  bool
	idle     chan struct{} // closed when aborted and inflight reaches 0
	ended    chan struct{} // closed on abort
}

func (s *virtioSession) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return false
	}
	s.inflight++
	return true
}

func (s *virtioSession) end() {
	s.mu.Lock()
	s.inflight--
	if s.aborted && s.inflight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

func (s *virtioSession) Read(p []byte) (int, error) {
	if !s.begin() {
		return 0, ErrClosed
	}
	defer s.end()
	for stale := 0; ; stale++ {
		n, err := s.readPort(p)
		if errors.Is(err, syscall.EIO) {
			// A pty master reads EIO once its slave is closed: the peer left.
			err = io.EOF
		}
		// The hang-up of the previous host can reach the guest after the
		// next host has connected and started this session: the port then
		// reads EOF and polls POLLHUP for a moment although a host is
		// there. So an EOF ends the session only if the port stays without
		// a host for hostGoneAfter; if a host shows up within it, read on
		// (a new host's HELLO restarts the session).
		if n == 0 && err == io.EOF && stale < maxStaleEOF && s.hostReturns() {
			continue
		}
		return n, err
	}
}

// maxStaleEOF bounds the EOFs a session ignores in a row; past it the
// session ends anyway.
const maxStaleEOF = 8

// hostGoneAfter is how long a port must show no host before a session
// ends on EOF.
const hostGoneAfter = 250 * time.Millisecond

// hostReturns reports whether the port shows a host connected within
// hostGoneAfter. It gives up early when the session is aborted.
func (s *virtioSession) hostReturns() bool {
	deadline := time.Now().Add(hostGoneAfter)
	for {
		if s.hostConnected() {
			return true
		}
		s.mu.Lock()
		aborted := s.aborted
		s.mu.Unlock()
		if aborted || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostConnected reports whether the port shows a host attached: no
// POLLHUP right now.
func (s *virtioSession) hostConnected() bool {
	raw, err := s.f.SyscallConn()
	if err != nil {
		return false
	}
	connected := false
	_ = raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 0); err == nil {
			connected = fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) == 0
		}
	})
	return connected
}

// tryWrite writes b only if the port takes it at once (TrySend): the
// read loop then sends its PONGs and WINDOWs itself where it would start
// a goroutine to write each, a hand-off that under emulation took a
// PING/PONG round trip to 1.4 times a call's. A port opened blocking
// declines.
func (s *virtioSession) tryWrite(b []byte) (int, error) {
	if !s.begin() {
		return 0, ErrClosed
	}
	defer s.end()
	s.wonce.Do(func() {
		raw, err := s.f.SyscallConn()
		if err != nil {
			return
		}
		_ = raw.Control(func(fd uintptr) {
			fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
			if err == nil && fl&unix.O_NONBLOCK != 0 {
				s.wraw = raw
			}
		})
	})
	if s.wraw == nil {
		return 0, nil
	}
	return tryWrite(s.wraw, b)
}

func (s *virtioSession) Write(p []byte) (int, error) {
	if !s.begin() {
		return 0, ErrClosed
	}
	defer s.end()
	return s.f.Write(p)
}

func (s *virtioSession) SetReadDeadline(t time.Time) error {
	if !s.begin() {
		return ErrClosed
	}
	defer s.end()
	return s.f.SetReadDeadline(t)
}

func (s *virtioSession) SetWriteDeadline(t time.Time) error {
	if !s.begin() {
		return ErrClosed
	}
	defer s.end()
	return s.f.SetWriteDeadline(t)
}

// Close ends the session but keeps the device open for the next one.
func (s *virtioSession) Close() error {
	s.abort()
	return nil
}

// abort interrupts blocked I/O; the device stays open.
func (s *virtioSession) abort() {
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		return
	}
	s.aborted = true // no new I/O starts from here
	s.idle = make(chan struct{})
	s.mu.Unlock()
	// Interrupt I/O in flight before anyone learns the session ended: the
	// next session clears the deadline and must not have it set again
	// after that.
	_ = s.f.SetDeadline(time.Unix(1, 0))
	s.mu.Lock()
	if s.inflight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	close(s.ended)
	s.mu.Unlock()
}

// wait returns once no Read or Write of the session is in flight.
func (s *virtioSession) wait() {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

// errSessionRestart ends a virtio-console session when a new HELLO
// arrives in it: the host disconnected and reconnected faster than the
// guest could see the hang-up. Receive keeps the HELLO on the listener,
// and the next Accept's channel delivers it first, so it opens the next
// session. It wraps io.EOF: to the server, the old session just ended.
var errSessionRestart = fmt.Errorf("channel: virtio port: host reconnected: %w", io.EOF)

// virtioChannel is a session's Channel. A virtio-console port has no
// connection boundaries the guest can always see: a host that reconnects
// quickly shows up only as a new HELLO in the byte stream, and one that
// left mid-frame leaves the stream out of sync. The channel hands such a
// HELLO to the next session and, after a decoding error, has the next
// session skip to the next HELLO.
type virtioChannel struct {
	*Stream
	s       *virtioSession
	l       *VirtioListener
	pending *wire.Frame // HELLO to deliver first
	started bool        // a frame has been received in this session
}

// Receive reads the next frame of this host session.
func (c *virtioChannel) Receive(ctx context.Context, f *wire.Frame) error {
	if c.pending != nil {
		*f, c.pending, c.started = *c.pending, nil, true
		return nil
	}
	if err := c.Stream.Receive(ctx, f); err != nil {
		if errors.Is(err, wire.ErrUnknownType) || errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrMalformed) {
			c.l.mu.Lock()
			c.l.resync = true
			c.l.mu.Unlock()
		}
		return err
	}
	if f.Type == wire.TypeHello && c.started {
		hello := &wire.Frame{Type: f.Type, StreamID: f.StreamID, Flags: f.Flags, Payload: bytes.Clone(f.Payload)}
		c.l.mu.Lock()
		c.l.hello = hello
		c.l.mu.Unlock()
		c.Close()
		return errSessionRestart
	}
	c.started = true
	return nil
}

// RemoteAddr returns the port's address.
func (c *virtioChannel) RemoteAddr() net.Addr { return c.s.addr }

// VirtioWindow is the per-stream receive window an rpc server grants on
// a virtio-console session (RecvWindow) unless configured otherwise.
const VirtioWindow = 1 << 20

// RecvWindow is the receive window a server should grant per stream:
// VirtioWindow. A round trip over a port takes a millisecond or more
// under emulation, and with a window of 256 KiB, one DATA frame's worth,
// an upload went frame by frame: the host waited for the guest to take
// each frame in, and the guest for the next frame to arrive. 1 MiB is
// less than rpc.DefaultWindow, which is sized for a unix socket's
// buffer: under TCG, 4 MiB measured no faster in the noise of two
// alternating runs (uploads 82, 88 MB/s against 116, 83 MB/s), and the
// guest's memory is the scarcer.
func (c *virtioChannel) RecvWindow() uint32 { return VirtioWindow }

// PeerInfo reports a virtio-console session: its host end belongs to
// the hypervisor.
func (c *virtioChannel) PeerInfo() PeerInfo { return PeerInfo{Transport: TransportVirtio} }

// readWriteCloser joins a session's reader (possibly a helloScanner) to
// its writer and closer.
type readWriteCloser struct {
	io.Reader
	*virtioSession
}

func (rw readWriteCloser) Read(p []byte) (int, error) { return rw.Reader.Read(p) }

// helloScanner skips bytes until the start of a HELLO frame: a 10-byte
// header with stream 0 and type HELLO followed by the HELLO magic.
type helloScanner struct {
	r      io.Reader
	window []byte
	found  bool
}

func (h *helloScanner) Read(p []byte) (int, error) {
	if h.found {
		if len(h.window) > 0 {
			n := copy(p, h.window)
			h.window = h.window[n:]
			return n, nil
		}
		return h.r.Read(p)
	}
	const want = wire.HeaderSize + len(wire.HelloMagic)
	buf := make([]byte, 4096)
	for {
		n, err := h.r.Read(buf)
		for _, b := range buf[:n] {
			if h.found {
				h.window = append(h.window, b)
				continue
			}
			h.window = append(h.window, b)
			if len(h.window) > want {
				h.window = h.window[1:]
			}
			if len(h.window) == want && isHelloStart(h.window) {
				h.found = true
			}
		}
		if h.found {
			return h.Read(p)
		}
		if err != nil {
			return 0, err
		}
	}
}

func isHelloStart(b []byte) bool {
	return b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0 && wire.Type(b[8]) == wire.TypeHello &&
		string(b[wire.HeaderSize:wire.HeaderSize+len(wire.HelloMagic)]) == wire.HelloMagic
}
