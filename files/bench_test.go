package files_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

const benchSize = 64 << 20

// The three benchmarks below run over the same kind of socket (a unix
// socket pair) so their MB/s compare directly. The files live in memory
// (/dev/shm where present) so the disk does not set the pace.

// BenchmarkRawCopy64MiB is the floor: 64 MiB through a unix socket
// between two goroutines in 256 KiB writes, no framing or dispatch.
func BenchmarkRawCopy64MiB(b *testing.B) {
	a, z := testutil.SocketPair(b)
	buf := make([]byte, 256<<10)
	sink := make(chan int64)
	go func() {
		rbuf := make([]byte, 256<<10)
		for {
			var n int64
			for n < benchSize {
				m, err := z.Read(rbuf)
				if err != nil {
					close(sink)
					return
				}
				n += int64(m)
			}
			sink <- n
		}
	}()
	b.SetBytes(benchSize)
	for b.Loop() {
		for sent := 0; sent < benchSize; sent += len(buf) {
			if _, err := a.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		<-sink
	}
	a.Close()
	<-sink
}

// benchWindow is the per-stream window of the transfer benchmarks.
const benchWindow = 4 << 20

// benchReadBuffer is the channel read buffer of the transfer benchmarks.
const benchReadBuffer = 1 << 20

// newBenchEnv is newEnv with a wider per-stream window on both sides.
func newBenchEnv(b *testing.B, window uint32) *env {
	b.Helper()
	svc, err := files.NewService(files.Options{Root: fastTempDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	srv := rpc.NewServer(rpc.ServerOptions{Window: window})
	svc.Register(srv)
	a, z := testutil.SocketPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{ReadBufferSize: benchReadBuffer}))
	}()
	c, err := rpc.NewClient(ctx, channel.NewStream(z, channel.StreamOptions{ReadBufferSize: benchReadBuffer}), rpc.ClientOptions{Window: window})
	if err != nil {
		cancel()
		<-done
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return &env{root: svc.Root(), svc: svc, c: files.NewClient(c)}
}

func BenchmarkUpload64MiB(b *testing.B) {
	e := newBenchEnv(b, benchWindow)
	data := make([]byte, benchSize)
	ctx := context.Background()
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := e.c.Upload(ctx, bytes.NewReader(data), "up", files.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownload64MiB(b *testing.B) {
	e := newBenchEnv(b, benchWindow)
	if err := os.WriteFile(filepath.Join(e.root, "down"), make([]byte, benchSize), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := e.c.Download(ctx, "down", io.Discard, files.ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRPCStream64MiB sends 64 MiB through a bare rpc stream into
// io.Discard, with the same windows as the transfers: the ceiling the
// rpc layer sets, to read the file figures against.
func BenchmarkRPCStream64MiB(b *testing.B) {
	srv := rpc.NewServer(rpc.ServerOptions{Window: benchWindow})
	srv.RegisterHandler("sink", rpc.HandlerFunc(func(ctx context.Context, call *rpc.Call) (any, error) {
		_, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{call}, make([]byte, 256<<10))
		return nil, err
	}))
	a, z := testutil.SocketPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{ReadBufferSize: benchReadBuffer}))
	}()
	defer func() { cancel(); <-done }()
	c, err := rpc.NewClient(ctx, channel.NewStream(z, channel.StreamOptions{ReadBufferSize: benchReadBuffer}), rpc.ClientOptions{Window: benchWindow})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 256<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		s, err := c.Open(ctx, "sink", nil)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchSize; n += len(data) {
			if _, err := s.Write(data); err != nil {
				b.Fatal(err)
			}
		}
		s.CloseWrite()
		if err := s.Wait(nil); err != nil {
			b.Fatal(err)
		}
	}
}
