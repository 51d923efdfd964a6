package prokshy

import (
	"errors"
	"io"
	"testing"
	"time"
)

// TestNativeStaleHangup: on a virtio port an EOF that no second EOF
// follows is an earlier host's late hang-up and does not end the native
// session; two in a row are the host leaving.
func TestNativeStaleHangup(t *testing.T) {
	tests := []struct {
		name   string
		chunks []chunk
		want   string
		err    error
	}{
		{"EOF, then data", []chunk{{err: io.EOF}, {b: []byte("frame")}}, "frame", nil},
		{"EOF, nothing for the grace period, then data", []chunk{{err: io.EOF}, {}, {b: []byte("late")}}, "late", nil},
		{"EOF twice", []chunk{{err: io.EOF}, {err: io.EOF}}, "", io.EOF},
		{"a read error", []chunk{{err: errors.New("port gone")}}, "", errors.New("port gone")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pump{reconnect: true, ch: make(chan chunk)}
			c := &nativeConn{r: &lineReader{p: p}, closed: make(chan struct{})}
			go func() {
				for _, ch := range tt.chunks {
					if ch.b == nil && ch.err == nil { // a pause past the grace period
						time.Sleep(2 * hangupGrace)
						continue
					}
					p.ch <- ch
				}
			}()
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if string(buf[:n]) != tt.want || (err == nil) != (tt.err == nil) || (err != nil && err.Error() != tt.err.Error()) {
				t.Errorf("Read = %q, %v; want %q, %v", buf[:n], err, tt.want, tt.err)
			}
			c.Close()
		})
	}
}
