package files_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// recConn records the bytes written through it.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *recConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.buf = append(c.buf, p[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *recConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.buf)
}

// frame is where one frame starts and ends in a direction's byte stream.
type frame struct {
	start, end int64
	typ        wire.Type
	payload    []byte // as much of it as was sent
}

func (f frame) complete(sent []byte) bool { return f.end <= int64(len(sent)) }

// frames splits a recorded byte stream into frames (a 10-byte header:
// length, stream, type, flags; then the payload); the last may be cut
// short.
func frames(b []byte) []frame {
	var out []frame
	for off := 0; off+10 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		end := off + 10 + n
		out = append(out, frame{int64(off), int64(end), wire.Type(b[off+8]), b[off+10 : min(end, len(b))]})
		off = end
	}
	return out
}

// find returns the last frame of type typ, if any.
func find(fs []frame, typ wire.Type) (frame, bool) {
	for _, f := range slices.Backward(fs) {
		if f.typ == typ {
			return f, true
		}
	}
	return frame{}, false
}

// chunks yields data at most size bytes per Read, so that the upload
// goes out in many small DATA frames.
type chunks struct {
	data []byte
	size int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// cutResult is one overwrite under a cut.
type cutResult struct {
	err           error
	client, agent []byte // what each side wrote
}

// cutUpload overwrites root/target with data over a connection whose
// client side stops after clientLimit bytes and agent side after
// agentLimit bytes (-1: never), and waits until the agent has finished
// with the call.
func cutUpload(t *testing.T, svc *files.Service, data []byte, clientLimit, agentLimit int64, checksum bool) cutResult {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	a, z := testutil.SocketPair(t)
	ra, rz := &recConn{Conn: a}, &recConn{Conn: z}
	fa, fz := testutil.NewFaultConn(ra, agentLimit), testutil.NewFaultConn(rz, clientLimit)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(fa, channel.StreamOptions{}))
	}()
	c, err := rpc.NewClient(ctx, channel.NewStream(fz, channel.StreamOptions{}), rpc.ClientOptions{})
	if err == nil {
		_, err = files.NewClient(c).Upload(ctx, &chunks{data, 6 << 10}, "target", files.WriteOptions{Checksum: checksum})
		c.Close()
	}
	a.Close()
	z.Close()
	cancel()
	<-done
	return cutResult{err: err, client: rz.bytes(), agent: ra.bytes()}
}

// cutPoints are every frame boundary of fs, one byte either side, and
// n random offsets.
func cutPoints(fs []frame, n int, r *rand.Rand) []int64 {
	var out []int64
	for _, f := range fs {
		out = append(out, f.end, f.end-1, f.end+1, f.start+10)
	}
	total := fs[len(fs)-1].end
	for range n {
		out = append(out, 1+r.Int64N(total))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(v int64) bool { return v <= 0 || v > total })
}

// TestOverwriteCutAnywhere cuts an overwrite, sent in small DATA frames,
// at every frame boundary (and within frames, and at random) of each
// direction, the agent's STATUS reply included: the target always holds
// the old or the new contents, whole; a cut before the client's CLOSE
// keeps the old file; a cut inside the agent's STATUS (sent after the
// commit) finds the new one although the client sees an error; both
// outcomes occur; no temporary file remains.
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
			oldData := bytes.Repeat([]byte("old!"), 25<<10) // 100 KiB
			newData := make([]byte, 192<<10)
			rand.NewChaCha8([32]byte{9}).Read(newData)
			reset := func() {
				if err := os.WriteFile(target, oldData, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			reset()
			uncut := cutUpload(t, svc, newData, -1, -1, true)
			if got, _ := os.ReadFile(target); uncut.err != nil || !bytes.Equal(got, newData) {
				t.Fatalf("uncut upload: %v, %d bytes", uncut.err, len(got))
			}
			cf, af := frames(uncut.client), frames(uncut.agent)
			if n := len(slices.DeleteFunc(slices.Clone(cf), func(f frame) bool { return f.typ != wire.TypeData })); n < 30 {
				t.Fatalf("%d DATA frames: too few boundaries", n)
			}
			r := rand.New(rand.NewPCG(1, 2))
			var sawOld, sawNew, sawStatusCut int
			check := func(dir string, limit int64, res cutResult) {
				t.Helper()
				got, err := os.ReadFile(target)
				switch {
				case err != nil:
					t.Fatalf("%s cut at %d: %v", dir, limit, err)
				case bytes.Equal(got, oldData):
					sawOld++
				case bytes.Equal(got, newData):
					sawNew++
				default:
					t.Fatalf("%s cut at %d: target holds %d bytes, neither old nor new", dir, limit, len(got))
				}
				if res.err == nil && !bytes.Equal(got, newData) {
					t.Fatalf("%s cut at %d: the upload succeeded but the old file is there", dir, limit)
				}
				if entries, _ := os.ReadDir(root); len(entries) != 1 {
					t.Fatalf("%s cut at %d: directory holds %v", dir, limit, entries)
				}
			}
			for i, limit := range cutPoints(cf, 30, r) {
				reset()
				res := cutUpload(t, svc, newData, limit, -1, i%2 == 0)
				check("client", limit, res)
				// Without its whole CLOSE the agent cannot know the data ended.
				if cl, ok := find(frames(res.client), wire.TypeClose); !ok || !cl.complete(res.client) {
					if got, _ := os.ReadFile(target); !bytes.Equal(got, oldData) {
						t.Fatalf("client cut at %d, before its CLOSE was sent, committed the new contents", limit)
					}
				}
			}
			for _, limit := range cutPoints(af, 10, r) {
				reset()
				res := cutUpload(t, svc, newData, -1, limit, true)
				check("agent", limit, res)
				// A successful STATUS is sent only after the commit.
				st, ok := find(frames(res.agent), wire.TypeStatus)
				if ok && len(st.payload) >= 2 && binary.BigEndian.Uint16(st.payload) == 0 {
					if got, _ := os.ReadFile(target); !bytes.Equal(got, newData) {
						t.Fatalf("agent cut at %d, after its STATUS began, but the new contents were not committed", limit)
					}
					if !st.complete(res.agent) {
						sawStatusCut++
						if res.err == nil {
							t.Fatalf("agent cut at %d, inside its STATUS, yet the client saw success", limit)
						}
					}
				}
			}
			t.Logf("%d client frames, %d agent frames: %d cuts kept the old file, %d committed the new one",
				len(cf), len(af), sawOld, sawNew)
			if sawStatusCut == 0 {
				t.Error("no cut fell inside the agent's STATUS: the committed-but-unconfirmed case was not tried")
			}
			if sawOld == 0 || sawNew == 0 {
				t.Errorf("cuts kept the old file %d times and committed the new one %d times: want both", sawOld, sawNew)
			}
		})
	}
}
