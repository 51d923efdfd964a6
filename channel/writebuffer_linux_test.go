package channel_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
)

func TestUnixWriteBuffer(t *testing.T) {
	wmemMax := testutil.WmemMax(t)
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
			system := testutil.SendBuffer(t, a)
			s := channel.NewStream(a, channel.StreamOptions{UnixWriteBuffer: tt.ask})
			defer s.Close()
			if diff := cmp.Diff(tt.want(system), testutil.SendBuffer(t, a)); diff != "" {
				t.Errorf("SO_SNDBUF (-want +got):\n%s", diff)
			}
		})
	}
}
