package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// TestProcessMaxConns: --max-conns N admits N connections at once and
// refuses the next with ResourceExhausted.
func TestProcessMaxConns(t *testing.T) {
	for _, n := range []int{1, 20} { // 20 is past rpc.DefaultMaxConns
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "agent.sock")
			p := startAgent(t, "--listen", "unix:"+sock, "--max-conns", strconv.Itoa(n))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p.dial(t, sock)
			for i := 1; i < n; i++ {
				c, err := transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{})
				if err != nil {
					t.Fatalf("connection %d of %d: %v", i+1, n, err)
				}
				t.Cleanup(func() { c.Close() })
			}
			c, err := transport.Dial(ctx, "unix:"+sock, rpc.ClientOptions{})
			if err == nil {
				c.Close()
				t.Fatalf("connection %d admitted past --max-conns %d", n+1, n)
			}
			var re *rpc.Error
			if !errors.As(err, &re) || re.Code != rpc.ResourceExhausted {
				t.Fatalf("connection %d: %v, want ResourceExhausted", n+1, err)
			}
		})
	}
}

func TestMaxConnsRefusesZero(t *testing.T) {
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"--max-conns", "0", "--listen", "unix:" + filepath.Join(t.TempDir(), "s")}, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "--max-conns 0") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --max-conns 0", code, errOut.String())
	}
}
