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

// The floors: the same jobs as Upload and Download, done with plain
// io.Copy over a raw unix socket: no framing, no dispatch, no checks.
// Upload's floor writes the received bytes into a new file in the same
// directory; Download's reads the file into the socket (sendfile where
// the kernel offers it) and discards what arrives.

// BenchmarkRawUpload64MiB: bytes in memory → socket → new file.
func BenchmarkRawUpload64MiB(b *testing.B) {
	dir := fastTempDir(b)
	a, z := testutil.SocketPair(b)
	data := make([]byte, benchSize)
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			f, err := os.Create(filepath.Join(dir, "raw-up"))
			if err != nil {
				done <- err
				return
			}
			n, err := io.Copy(f, io.LimitReader(z, benchSize))
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			if n < benchSize && err == nil {
				close(done) // the sender closed the socket
				return
			}
			done <- err
			if err != nil {
				return
			}
		}
	}()
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := io.Copy(a, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	a.Close()
	<-done
}

// BenchmarkRawDownload64MiB: file → socket → discarded.
func BenchmarkRawDownload64MiB(b *testing.B) {
	dir := fastTempDir(b)
	path := filepath.Join(dir, "raw-down")
	if err := os.WriteFile(path, make([]byte, benchSize), 0o644); err != nil {
		b.Fatal(err)
	}
	a, z := testutil.SocketPair(b)
	done := make(chan error)
	go func() {
		for {
			n, err := io.Copy(io.Discard, io.LimitReader(z, benchSize))
			if n < benchSize && err == nil {
				close(done) // the sender closed the socket
				return
			}
			done <- err
			if err != nil {
				return
			}
		}
	}()
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(a, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	a.Close()
	<-done
}

// newBenchEnv is newEnv with default options and the files in memory.
func newBenchEnv(b *testing.B) *env {
	b.Helper()
	svc, err := files.NewService(files.Options{Root: fastTempDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	c := testutil.Pair(b, srv)
	return &env{root: svc.Root(), svc: svc, c: files.NewClient(c)}
}

func BenchmarkUpload64MiB(b *testing.B) {
	e := newBenchEnv(b)
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
	e := newBenchEnv(b)
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
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.RegisterHandler("sink", rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
		_, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{call}, make([]byte, 256<<10))
		return nil, err
	}))
	a, z := testutil.SocketPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()
	c, err := rpc.NewClient(ctx, channel.NewStream(z, channel.StreamOptions{}), rpc.ClientOptions{})
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
