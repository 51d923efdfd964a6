package testutil

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// SendBuffer is the SO_SNDBUF the kernel reports for the unix socket c:
// twice what was asked for, as Linux keeps room for its bookkeeping.
func SendBuffer(tb testing.TB, c net.Conn) int {
	tb.Helper()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		tb.Fatalf("%T is not a unix socket", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) }); err != nil {
		tb.Fatal(err)
	}
	if serr != nil {
		tb.Fatal(serr)
	}
	return n
}

// WmemMax is the kernel's cap on asked-for send buffers
// (net.core.wmem_max); the test is skipped where it cannot be read.
func WmemMax(tb testing.TB) int {
	tb.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/wmem_max")
	if err != nil {
		tb.Skipf("cannot read the kernel's cap on send buffers: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
