package matchlock

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
)

// TestConcurrentSendersDoNotInterleave: frames sent from many goroutines
// at once arrive whole, each payload of one sender only, large ones split
// into chunkSize pieces.
func TestConcurrentSendersDoNotInterleave(t *testing.T) {
	a, z := net.Pipe()
	defer z.Close()
	// Each Write reaches the pipe in small pieces, as a stream socket may
	// take it, so only the writer's lock keeps a frame together.
	w := newFrameWriter(splitConn{a}, 0)
	const senders, frames = 8, 50
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range frames {
				p := bytes.Repeat([]byte{byte('a' + s)}, 1+(i*7919)%(3*chunkSize))
				if err := w.send(MsgStdout, p); err != nil {
					t.Errorf("sender %d: %v", s, err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); a.Close() }()
	got := map[byte]int{}
	for {
		typ, p, err := ReadFrame(z, chunkSize)
		if err != nil {
			break
		}
		if typ != MsgStdout || len(p) == 0 || len(p) > chunkSize {
			t.Fatalf("frame type %d of %d bytes", typ, len(p))
		}
		if n := bytes.Count(p, p[:1]); n != len(p) {
			t.Fatalf("a frame mixes senders: %q...", p[:min(len(p), 40)])
		}
		got[p[0]] += len(p)
	}
	for s := range senders {
		want := 0
		for i := range frames {
			want += 1 + (i*7919)%(3*chunkSize)
		}
		if got[byte('a'+s)] != want {
			t.Errorf("sender %c: %d bytes arrived, want %d", 'a'+s, got[byte('a'+s)], want)
		}
	}
	if t.Failed() {
		fmt.Println(got)
	}
}

type splitConn struct{ net.Conn }

func (c splitConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 1000)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		runtime.Gosched()
	}
	return n, nil
}
