package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/channel"
)

func TestParseForward(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want forwardSpec
		bad  bool
	}{
		{in: "8080:80", want: forwardSpec{"127.0.0.1:8080", "tcp", "127.0.0.1:80"}},
		{in: "0:db:5432", want: forwardSpec{"127.0.0.1:0", "tcp", "db:5432"}},
		{in: "0.0.0.0:8080:10.0.0.2:80", want: forwardSpec{"0.0.0.0:8080", "tcp", "10.0.0.2:80"}},
		{in: "2375:unix:/run/docker.sock", want: forwardSpec{"127.0.0.1:2375", "unix", "/run/docker.sock"}},
		{in: "localhost:2375:unix:/a:b", want: forwardSpec{"localhost:2375", "unix", "/a:b"}},
		{in: "8080", bad: true},
		{in: "8080:0", bad: true},
		{in: "x:80", bad: true},
		{in: "8080:70000", bad: true},
		{in: "1:2:3:4:5", bad: true},
		{in: "8080:unix:", bad: true},
	} {
		got, err := parseForward(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("parseForward(%q) = %+v, %v; want %+v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// upperServer answers each connection with what it read, in upper case,
// once the client has half-closed: so a forward that loses the half-close
// or the last bytes fails.
func upperServer(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	must(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(bytes.ToUpper(b))
			}()
		}
	}()
	return ln
}

func TestForward(t *testing.T) {
	target := startAgent(t)
	tcpSrv := upperServer(t, "tcp", "127.0.0.1:0")
	unixPath := filepath.Join(t.TempDir(), "guest.sock")
	upperServer(t, "unix", unixPath)
	dead := deadPort(t)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--connect", target, "forward",
			"0:" + tcpSrv.Addr().String(), "0:unix:" + unixPath, "0:" + dead}, strings.NewReader(""), pw, &errOut)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var locals []string
	for range 3 {
		if !sc.Scan() {
			t.Fatalf("forward printed no listener; stderr %q", errOut.String())
		}
		f := strings.Fields(sc.Text()) // forwarding LOCAL -> NET ADDR
		locals = append(locals, f[1])
	}
	go io.Copy(io.Discard, pr)

	var wg sync.WaitGroup
	for i, msg := range []string{"through tcp", "through unix", "through tcp again"} {
		local := locals[[]int{0, 1, 0}[i]]
		wg.Add(1)
		go func() { // concurrent connections through the same forward
			defer wg.Done()
			if got := roundTrip(t, local, msg); got != strings.ToUpper(msg) {
				t.Errorf("via %s: %q; want %q", local, got, strings.ToUpper(msg))
			}
		}()
	}
	wg.Wait()
	if got := roundTrip(t, locals[2], "to nobody"); got != "" {
		t.Errorf("a dead guest port answered %q", got)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("forward exited %d after being stopped; stderr %q", code, errOut.String())
	}
	if want := "connection refused"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not report the refused guest dial", errOut.String())
	}
}

// deadPort returns a loopback TCP address that refuses connections for
// the rest of the test: a socket bound to it that never listens keeps
// the port from going to anyone else, as a closed listener's port could
// (to one of the forward's own listeners, which would then answer).
func deadPort(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	must(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := unix.Getsockname(fd)
	must(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
}

// roundTrip sends msg to addr, half-closes and returns the whole reply.
func roundTrip(t *testing.T, addr, msg string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	c.Write([]byte(msg))
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForwardAgentGone: forward stops with status 7 when the agent does.
func TestForwardAgentGone(t *testing.T) {
	a, err := agent.New(agent.Config{Name: "going"})
	must(t, err)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := channel.ListenUnix(sock, channel.StreamOptions{})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = a.Serve(ctx, l) }()
	stopAgent := func() { cancel(); <-served; l.Close(); a.Close() }
	defer stopAgent()

	pr, pw := io.Pipe()
	var errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"--connect", "unix:" + sock, "forward", "0:1"}, strings.NewReader(""), pw, &errOut)
		pw.Close()
	}()
	if _, err := bufio.NewReader(pr).ReadString('\n'); err != nil {
		t.Fatalf("forward printed no listener: %v; stderr %q", err, errOut.String())
	}
	go io.Copy(io.Discard, pr)
	stopAgent()
	if code := <-done; code != exitUnreachable {
		t.Errorf("forward exited %d when the agent went away; want %d; stderr %q", code, exitUnreachable, errOut.String())
	}
}
