package files_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// cutUpload overwrites root/target with data over a connection that the
// client side cuts after limit bytes (-1: never), waits until the agent
// has finished with the call, and returns the client conn's write ends.
func cutUpload(t *testing.T, svc *files.Service, data []byte, limit int64) []int64 {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	a, z := testutil.SocketPair(t)
	fz := testutil.NewFaultConn(z, limit)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	c, err := rpc.NewClient(ctx, channel.NewStream(fz, channel.StreamOptions{}), rpc.ClientOptions{})
	if err == nil {
		_, err = files.NewClient(c).Upload(ctx, bytes.NewReader(data), "target", files.WriteOptions{Checksum: limit%2 == 0})
		c.Close()
	}
	if limit < 0 && err != nil {
		t.Fatalf("upload without a fault: %v", err)
	}
	a.Close()
	cancel()
	<-done
	return fz.WriteEnds()
}

// TestOverwriteCutAnywhere cuts an overwrite at every frame boundary
// and at random offsets: the target always holds the old or the new
// contents, whole, and no temporary file remains.
func TestOverwriteCutAnywhere(t *testing.T) {
	for _, tree := range trees() {
		t.Run(tree.name, func(t *testing.T) {
			root := t.TempDir()
			svc, err := tree.new(files.Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			target := filepath.Join(root, "target")
			oldData := bytes.Repeat([]byte("old!"), 75<<10) // 300 KiB
			newData := make([]byte, 700<<10)
			rand.NewChaCha8([32]byte{9}).Read(newData)
			reset := func() {
				if err := os.WriteFile(target, oldData, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			reset()
			ends := cutUpload(t, svc, newData, -1)
			if got, _ := os.ReadFile(target); !bytes.Equal(got, newData) {
				t.Fatalf("uncut upload left %d bytes", len(got))
			}
			total := ends[len(ends)-1]
			limits := slices.Clone(ends)
			for _, e := range ends {
				limits = append(limits, e-1, e+1)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for range 40 {
				limits = append(limits, r.Int64N(total))
			}
			slices.Sort(limits)
			limits = slices.Compact(limits)
			var sawOld, sawNew int
			for _, limit := range limits {
				if limit <= 0 || limit > total {
					continue
				}
				reset()
				cutUpload(t, svc, newData, limit)
				got, err := os.ReadFile(target)
				switch {
				case err != nil:
					t.Fatalf("cut at %d of %d: %v", limit, total, err)
				case bytes.Equal(got, oldData):
					sawOld++
				case bytes.Equal(got, newData):
					sawNew++
				default:
					t.Fatalf("cut at %d of %d: target holds %d bytes, neither old nor new", limit, total, len(got))
				}
				if limit < ends[len(ends)-2] && !bytes.Equal(got, oldData) {
					t.Fatalf("cut at %d, before the client's CLOSE, committed the new contents", limit)
				}
				entries, _ := os.ReadDir(root)
				if len(entries) != 1 {
					var names []string
					for _, e := range entries {
						names = append(names, e.Name())
					}
					t.Fatalf("cut at %d of %d: directory holds %q", limit, total, names)
				}
			}
			t.Logf("%d cuts: %d kept the old file, %d committed the new one", len(limits), sawOld, sawNew)
			if sawOld == 0 {
				t.Error("no cut kept the old file")
			}
		})
	}
}
