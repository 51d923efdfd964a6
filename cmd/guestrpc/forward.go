package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"

	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/rpc"
)

// forwardSpec is one LOCAL:GUESTADDR argument of forward.
type forwardSpec struct {
	local          string // host:port to listen on
	network, guest string // what to dial inside the guest
}

// parseForward parses [BIND:]PORT:[HOST:]GUESTPORT or [BIND:]PORT:unix:PATH.
// BIND and HOST default to 127.0.0.1; PORT 0 picks a free local port.
func parseForward(s string) (forwardSpec, error) {
	bad := usageErrorf("forward %q: want [BIND:]PORT:[HOST:]GUESTPORT or [BIND:]PORT:unix:PATH", s)
	local, rest := "", ""
	var f forwardSpec
	if i := strings.Index(s, ":unix:"); i >= 0 {
		local, f.network, f.guest = s[:i], "unix", s[i+len(":unix:"):]
		if f.guest == "" {
			return f, bad
		}
	} else {
		parts := strings.Split(s, ":")
		switch len(parts) {
		case 2:
			local, rest = parts[0], "127.0.0.1:"+parts[1]
		case 3:
			local, rest = parts[0], parts[1]+":"+parts[2]
		case 4:
			local, rest = parts[0]+":"+parts[1], parts[2]+":"+parts[3]
		default:
			return f, bad
		}
		if _, port, _ := net.SplitHostPort(rest); !isPort(port, false) {
			return f, bad
		}
		f.network, f.guest = "tcp", rest
	}
	if !strings.Contains(local, ":") {
		local = "127.0.0.1:" + local
	}
	if _, port, err := net.SplitHostPort(local); err != nil || !isPort(port, true) {
		return f, bad
	}
	f.local = local
	return f, nil
}

// isPort reports whether s is a port number (0 only if zeroOK).
func isPort(s string, zeroOK bool) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && (n > 0 || zeroOK)
}

// runForward is `guestrpc forward LOCAL:GUESTADDR...`.
func runForward(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("forward", "[BIND:]PORT:[HOST:]GUESTPORT... | [BIND:]PORT:unix:PATH...",
		"Listens on each local PORT (BIND and HOST default to 127.0.0.1; PORT 0 picks one) and forwards every\n"+
			"connection to HOST:GUESTPORT or the unix socket PATH as seen from inside the guest, like\n"+
			"kubectl port-forward. Prints one \"forwarding LOCAL -> NET ADDR\" line per listener, then serves\n"+
			"until interrupted (status 0) or the agent goes away (status 7).", stderr)
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	specs := make([]forwardSpec, fset.NArg())
	for i, a := range fset.Args() {
		f, err := parseForward(a)
		if err != nil {
			return exitUsage, err
		}
		specs[i] = f
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw := &forwarder{fc: forward.NewClient(c), stderr: &syncWriter{w: stderr}}
	var lc net.ListenConfig
	for _, f := range specs {
		ln, err := lc.Listen(ctx, "tcp", f.local)
		if err != nil {
			return exitFailed, err
		}
		defer ln.Close()
		context.AfterFunc(ctx, func() { ln.Close() })
		fmt.Fprintf(stdout, "forwarding %s -> %s %s\n", ln.Addr(), f.network, f.guest)
		fw.wg.Add(1)
		go fw.serve(ctx, ln, f)
	}
	agentGone := false
	select {
	case <-ctx.Done():
	case <-c.Done():
		agentGone = true
	}
	cancel()
	fw.wg.Wait()
	if agentGone {
		return exitUnreachable, fmt.Errorf("the connection to the agent ended (%v)", c.Err())
	}
	return exitOK, nil
}

// forwarder pipes accepted connections into the guest.
type forwarder struct {
	fc     *forward.Client
	stderr io.Writer
	wg     sync.WaitGroup
}

// serve accepts on ln until it is closed; each connection gets a guest one.
func (fw *forwarder) serve(ctx context.Context, ln net.Listener, f forwardSpec) {
	defer fw.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(fw.stderr, "guestrpc forward: %s: %v\n", f.local, err)
			}
			return
		}
		fw.wg.Add(1)
		go func() {
			defer fw.wg.Done()
			fw.pipe(ctx, conn, f)
		}()
	}
}

// pipe dials f in the guest and copies both ways until both directions
// have ended (half-closes pass through) or ctx ends.
func (fw *forwarder) pipe(ctx context.Context, conn net.Conn, f forwardSpec) {
	defer conn.Close()
	gc, err := fw.fc.Dial(ctx, f.network, f.guest)
	if err != nil {
		fmt.Fprintf(fw.stderr, "guestrpc forward: %s -> %s %s: %v\n", conn.RemoteAddr(), f.network, f.guest, err)
		return
	}
	defer gc.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close(); gc.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(gc, conn)
	}()
	copyHalf(conn, gc)
	<-done
}

// copyHalf copies src to dst, then half-closes dst (or closes it).
func copyHalf(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = dst.Close()
}

// syncWriter serializes writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
