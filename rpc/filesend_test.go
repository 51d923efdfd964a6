package rpc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// countingStream is a channel.Stream that counts the DATA payload bytes
// passed to Send, that is, copied through the sender's memory. Its
// SendFile is the Stream's.
type countingStream struct {
	*channel.Stream
	data *atomic.Int64
}

func (s countingStream) Send(ctx context.Context, f *wire.Frame) error {
	if f.Type == wire.TypeData {
		s.data.Add(int64(len(f.Payload)))
	}
	return s.Stream.Send(ctx, f)
}

// hiddenStream hides SendFile: the agent must copy.
type hiddenStream struct{ countingStream }

func (hiddenStream) SendFile() {}

// TestRequestReadFromSplicesFiles: a handler that io.Copies a regular
// file to its Request sends it whole, from the file's offset and within
// an io.LimitedReader's limit, and on a socket on Linux without passing
// a byte through Send (the bytes go from the file to the socket by
// splice); on a channel that cannot splice it copies, with the same
// result.
func TestRequestReadFromSplicesFiles(t *testing.T) {
	content := make([]byte, 3<<20+12345)
	for i := range content {
		content[i] = byte(i * 7 / 5)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		hide          bool
		offset, limit int64 // limit 0: to the end
	}{
		{"whole file", false, 0, 0},
		{"offset and limit", false, 4097, 1<<20 + 3},
		{"limit past the end", false, 3 << 20, 1 << 20},
		{"no splice: copied", true, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{Policy: rpc.Policy{Insecure: true}})
			srv.HandleFunc("get", func(ctx context.Context, req *rpc.Request) (any, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				defer f.Close()
				if _, err := f.Seek(tt.offset, io.SeekStart); err != nil {
					return nil, err
				}
				var r io.Reader = f
				if tt.limit > 0 {
					r = io.LimitReader(f, tt.limit)
				}
				n, err := io.Copy(req, r)
				return n, err
			})
			var sent atomic.Int64
			c := testutil.PairOver(t, srv, func(c net.Conn) channel.Channel {
				cs := countingStream{channel.NewStream(c, channel.StreamOptions{}), &sent}
				if tt.hide {
					return hiddenStream{cs}
				}
				return cs
			}, func(c net.Conn) channel.Channel { return channel.NewStream(c, channel.StreamOptions{}) })
			s, err := c.Open(context.Background(), "get", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := io.Copy(&got, s); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := s.Wait(&n); err != nil {
				t.Fatal(err)
			}
			want := content[tt.offset:]
			if tt.limit > 0 {
				want = want[:min(int64(len(want)), tt.limit)]
			}
			if n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("received %d bytes (handler reports %d), want %d bytes of the file from %d", got.Len(), n, len(want), tt.offset)
			}
			wantCopied := int64(0)
			if tt.hide || runtime.GOOS != "linux" {
				wantCopied = int64(len(want))
			}
			if diff := cmp.Diff(wantCopied, sent.Load()); diff != "" {
				t.Errorf("DATA bytes passed through Send (-want +got):\n%s", diff)
			}
		})
	}
}
