package channel_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
)

// sendBuffer is the SO_SNDBUF the kernel reports for c: twice what was
// asked for, as the kernel keeps room for its bookkeeping.
func sendBuffer(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return n
}

func TestUnixWriteBuffer(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/wmem_max")
	if err != nil {
		t.Skipf("cannot read the kernel's cap on send buffers: %v", err)
	}
	wmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ask  int
		want func(system int) int
	}{
		{"default", 0, func(int) int { return 2 * min(channel.DefaultUnixWriteBuffer, wmemMax) }},
		{"set", 300 << 10, func(int) int { return 2 * min(300<<10, wmemMax) }},
		{"system's", -1, func(system int) int { return system }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := testutil.SocketPair(t)
			system := sendBuffer(t, a)
			s := channel.NewStream(a, channel.StreamOptions{UnixWriteBuffer: tt.ask})
			defer s.Close()
			if diff := cmp.Diff(tt.want(system), sendBuffer(t, a)); diff != "" {
				t.Errorf("SO_SNDBUF (-want +got):\n%s", diff)
			}
		})
	}
}
