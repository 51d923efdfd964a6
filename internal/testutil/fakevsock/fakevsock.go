// Package fakevsock implements the host-side unix-socket protocols that
// hypervisors put in front of virtio-vsock, so host dialers can be tested
// without a VM or AF_VSOCK:
//
//   - Hybrid (Firecracker, Cloud Hypervisor): the VM socket takes
//     "CONNECT <port>\n", answers "OK <local port>\n" when a guest
//     service listens on the port and closes the connection otherwise;
//     a guest connecting to host port P reaches "<uds>_P".
//   - Hyperkit: a state directory with a "connect" socket taking
//     "%08x.%08x\n" (cid.port, no reply), one socket per forwarded guest
//     port named "%08x.%08x", and guest connections to the host reaching
//     "00000002.%08x".
//
// Guest services are Go funcs given the guest end of each connection.
package fakevsock

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Service handles one connection as the guest's listening socket would.
type Service func(conn net.Conn)

// Hybrid is a fake Firecracker / Cloud Hypervisor vsock device.
type Hybrid struct {
	Path string // the VM's vsock unix socket

	mu        sync.Mutex
	services  map[uint32]Service
	nextLocal uint32
	l         net.Listener
	wg        sync.WaitGroup
}

// NewHybrid listens on a unix socket in a temp dir; it stops with the test.
func NewHybrid(t testing.TB) *Hybrid {
	t.Helper()
	h, err := StartHybrid(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// StartHybrid is NewHybrid outside a test (in an Example): it listens on
// dir/v.sock until Close.
func StartHybrid(dir string) (*Hybrid, error) {
	h := &Hybrid{Path: filepath.Join(dir, "v.sock"), services: map[uint32]Service{}, nextLocal: 1 << 30}
	l, err := net.Listen("unix", h.Path)
	if err != nil {
		return nil, err
	}
	h.l = l
	h.wg.Add(1)
	go h.accept()
	return h, nil
}

// Close stops listening and waits for the services' connections to end.
func (h *Hybrid) Close() error {
	err := h.l.Close()
	h.wg.Wait()
	return err
}

// Listen makes a guest service listen on port.
func (h *Hybrid) Listen(port uint32, s Service) {
	h.mu.Lock()
	h.services[port] = s
	h.mu.Unlock()
}

// GuestDial connects from the guest to host port, as the device does: to
// the unix socket "<Path>_<port>".
func (h *Hybrid) GuestDial(port uint32) (net.Conn, error) {
	return net.Dial("unix", h.Path+"_"+strconv.FormatUint(uint64(port), 10))
}

func (h *Hybrid) accept() {
	defer h.wg.Done()
	for {
		c, err := h.l.Accept()
		if err != nil {
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.handle(c)
		}()
	}
}

func (h *Hybrid) handle(c net.Conn) {
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || len(line) > 64 {
		c.Close()
		return
	}
	arg, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "CONNECT ")
	port, perr := strconv.ParseUint(arg, 10, 32)
	h.mu.Lock()
	s := h.services[uint32(port)]
	local := h.nextLocal
	h.nextLocal++
	h.mu.Unlock()
	if !ok || perr != nil || s == nil {
		// The device answers a bad request or a port nobody listens on
		// by closing the connection.
		c.Close()
		return
	}
	if _, err := fmt.Fprintf(c, "OK %d\n", local); err != nil {
		c.Close()
		return
	}
	s(&bufferedConn{Conn: c, r: r})
}

// Hyperkit is a fake hyperkit virtio-sock state directory.
type Hyperkit struct {
	Dir string
	CID uint32 // the guest's context ID

	mu       sync.Mutex
	services map[uint32]Service
	ls       []net.Listener
	wg       sync.WaitGroup
}

// NewHyperkit creates the state directory with its "connect" socket.
func NewHyperkit(t testing.TB, cid uint32) *Hyperkit {
	t.Helper()
	// Unix socket paths are short; a temp dir under /tmp keeps them so.
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	k := &Hyperkit{Dir: dir, CID: cid, services: map[uint32]Service{}}
	k.serve(t, filepath.Join(dir, "connect"), k.handleConnect)
	t.Cleanup(func() {
		k.mu.Lock()
		for _, l := range k.ls {
			l.Close()
		}
		k.mu.Unlock()
		k.wg.Wait()
		os.RemoveAll(dir)
	})
	return k
}

// Listen makes a guest service listen on port (reachable through
// "connect").
func (k *Hyperkit) Listen(port uint32, s Service) {
	k.mu.Lock()
	k.services[port] = s
	k.mu.Unlock()
}

// Forward exposes guest port as its own socket "%08x.%08x" (CID.port), as
// hyperkit's guest_forwards option does.
func (k *Hyperkit) Forward(t testing.TB, port uint32, s Service) {
	k.serve(t, filepath.Join(k.Dir, fmt.Sprintf("%08x.%08x", k.CID, port)), s)
}

// GuestDial connects from the guest to host port: the socket
// "00000002.%08x" in the state directory.
func (k *Hyperkit) GuestDial(port uint32) (net.Conn, error) {
	return net.Dial("unix", filepath.Join(k.Dir, fmt.Sprintf("%08x.%08x", 2, port)))
}

func (k *Hyperkit) serve(t testing.TB, path string, s Service) {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.ls = append(k.ls, l)
	k.mu.Unlock()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				s(c)
			}()
		}
	}()
}

func (k *Hyperkit) handleConnect(c net.Conn) {
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	var cid, port uint32
	if err == nil {
		_, err = fmt.Sscanf(line, "%08x.%08x\n", &cid, &port)
	}
	k.mu.Lock()
	s := k.services[port]
	k.mu.Unlock()
	if err != nil || cid != k.CID || s == nil {
		c.Close()
		return
	}
	s(&bufferedConn{Conn: c, r: r})
}

// bufferedConn keeps bytes the request reader took past the request line.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
