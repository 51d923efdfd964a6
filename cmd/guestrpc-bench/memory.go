package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/bench"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// settle is how long the harness lets an agent go quiet before reading
// its RSS: past the second after which guestrpc-agent returns the memory
// a transfer freed (agent.DefaultTrimDelay).
const settle = 2 * time.Second

// topUp moves 64 MiB pairs (one upload, one download) through each
// agent until each has moved at least want bytes.
func (sub *subjects) topUp(ctx context.Context, want int64) error {
	size := int64(len(sub.data))
	for sub.movedAgent < want {
		if _, err := sub.fc.Upload(ctx, bytes.NewReader(sub.data), "up", files.WriteOptions{}); err != nil {
			return err
		}
		if _, err := sub.fc.Download(ctx, "down", io.Discard, files.ReadOptions{}); err != nil {
			return err
		}
		sub.movedAgent += 2 * size
	}
	for sub.q != nil && sub.movedQGA < want {
		if _, err := sub.q.Upload(ctx, filepath.Join(sub.root, "qga-up"), bytes.NewReader(sub.data), 1<<20); err != nil {
			return err
		}
		if _, err := sub.q.Download(ctx, filepath.Join(sub.root, "down"), io.Discard, 1<<20); err != nil {
			return err
		}
		sub.movedQGA += 2 * size
	}
	return nil
}

// sizeRow reports the agent binary's size beside qemu-ga's.
func sizeRow(agentBin, qgaBin string) (bench.Row, error) {
	s := bench.Series{Name: "agent binary", Unit: "MB", Scale: 1e6,
		Note: "guestrpc: static, stripped (CGO_ENABLED=0, -s -w); qemu-ga: the distribution's, dynamically linked (glib and libc not counted)"}
	fi, err := os.Stat(agentBin)
	if err != nil {
		return bench.Row{}, err
	}
	s.Guestrpc = []float64{float64(fi.Size())}
	if qgaBin != "" {
		if fi, err := os.Stat(qgaBin); err == nil {
			s.QGA = []float64{float64(fi.Size())}
		}
	}
	return s.Row(), nil
}

// clientCost is the harness's own heap and stack in use and goroutines.
func clientCost() (bytes, goroutines float64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse + ms.StackInuse), float64(runtime.NumGoroutine())
}

// idleConns opens n connections to the agent, completes HELLO on each,
// and reports what one idle connection costs each side.
func idleConns(ctx context.Context, agent *child, sock string, n int) ([]bench.Row, error) {
	rss0, err := agent.rss()
	if err != nil {
		return nil, err
	}
	mem0, gr0 := clientCost()
	clients := make([]*rpc.Client, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range n {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := transport.Dial(dctx, "unix:"+sock, rpc.ClientOptions{Name: "idle"})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("idle connection %d: %w", len(clients)+1, err)
		}
		clients = append(clients, c)
	}
	time.Sleep(settle)
	rss1, err := agent.rss()
	if err != nil {
		return nil, err
	}
	mem1, gr1 := clientCost()
	per := func(a, b float64) []float64 { return []float64{(b - a) / float64(n)} }
	note := fmt.Sprintf("%d connections over unix sockets, after HELLO", n)
	agentSide := bench.Series{Name: "idle connection, agent side", Unit: "KB", Scale: 1e3, Note: note + "; RSS growth per connection",
		Guestrpc: per(float64(rss0), float64(rss1))}
	clientSide := bench.Series{Name: "idle connection, client side", Unit: "KB", Scale: 1e3, Note: "Go heap and stacks in use per connection",
		Guestrpc: per(mem0, mem1)}
	goroutines := bench.Series{Name: "idle connection, client goroutines", Unit: "", Note: "per connection",
		Guestrpc: per(gr0, gr1)}
	return []bench.Row{agentSide.Row(), clientSide.Row(), goroutines.Row()}, nil
}
