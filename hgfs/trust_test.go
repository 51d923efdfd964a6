package hgfs_test

import (
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// peer is one rpc connection to hgfs.packet that a test can end.
type peer struct {
	t    *testing.T
	c    *rpc.Client
	done chan struct{}
	stop context.CancelFunc
}

// dialHGFS serves srv on a fresh connection.
func dialHGFS(t *testing.T, srv *rpc.Server) *peer {
	t.Helper()
	a, z := testutil.SocketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{t: t, done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(p.done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	c, err := rpc.NewClient(ctx, channel.NewStream(z, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		cancel()
		<-p.done
		t.Fatal(err)
	}
	p.c = c
	t.Cleanup(p.close)
	return p
}

func (p *peer) do(packet []byte) []byte {
	p.t.Helper()
	r, err := hgfs.NewClient(p.c).Do(context.Background(), packet)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// close ends the connection and waits until the server has released it.
func (p *peer) close() {
	p.c.Close()
	<-p.done
	p.stop()
}

// confined is a root with a sibling directory "outside" holding secret.
type confined struct {
	root, outside, secret string
}

func newConfined(t *testing.T) confined {
	t.Helper()
	base := t.TempDir()
	c := confined{root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	c.secret = filepath.Join(c.outside, "secret")
	for _, d := range []string{c.root, c.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(c.secret, []byte("secret"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.root, "inside"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(c.outside, filepath.Join(c.root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(c.secret, filepath.Join(c.root, "hardlink")); err != nil {
		t.Fatal(err)
	}
	return c
}

// hgfsOver serves an hgfs.Service under a policy over root through rpc.
func hgfsOver(t *testing.T, opts files.Options) *rpc.Server {
	t.Helper()
	pol, err := files.NewPolicy(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pol.Close() })
	s := newService(t, hgfs.Options{Files: pol})
	srv := rpc.NewServer(rpc.ServerOptions{})
	s.Register(srv)
	return srv
}

// setattrMode is a SetattrV2 body that sets the permission triplets.
func setattrMode(name string, owner, group, other uint8) []byte {
	attr := (&pkt{}).u64(1<<7 | 1<<8 | 1<<9).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0).
		u8(0).u8(owner).u8(group).u8(other).u64(0).u64(0).u32(0).u32(0).u64(0).u32(0).u32(0).u64(0).b
	return (&pkt{}).u64(0).raw(attr).u32(0).name(name).b
}

func setattrSize(name string, size uint64) []byte {
	attr := (&pkt{}).u64(1 << 1).u32(0).u64(size).u64(0).u64(0).u64(0).u64(0).
		u8(0).u8(0).u8(0).u8(0).u64(0).u64(0).u32(0).u32(0).u64(0).u32(0).u32(0).u64(0).b
	return (&pkt{}).u64(0).raw(attr).u32(0).name(name).b
}

// TestPolicyRefusals sends, through hgfs.packet, every way the agent's
// HGFS used to ignore --root and --read-only: each is refused with
// ACCESS_DENIED and leaves the files outside the root as they were.
func TestPolicyRefusals(t *testing.T) {
	type op struct {
		name   string
		opts   func(c confined) files.Options
		packet func(c confined, sess uint64) []byte
		op     hgfs.Op
	}
	rooted := func(c confined) files.Options { return files.Options{Root: c.root} }
	readOnly := func(c confined) files.Options { return files.Options{Root: c.root, ReadOnly: true} }
	tests := []op{
		{"legacy open of a file outside", rooted, func(c confined, _ uint64) []byte {
			return legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeReadOnly).u32(hgfs.OpenFlagOpen).u8(6).name(c.secret).b)
		}, hgfs.OpOpen},
		{"legacy open through a symlink out", rooted, func(c confined, _ uint64) []byte {
			return legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeReadOnly).u32(hgfs.OpenFlagOpen).u8(6).name(c.root+"/out/secret").b)
		}, hgfs.OpOpen},
		{"legacy open with dot-dot", rooted, func(c confined, _ uint64) []byte {
			return legacy(hgfs.OpOpen, 1, (&pkt{}).u32(hgfs.OpenModeReadOnly).u32(hgfs.OpenFlagOpen).u8(6).name(c.root+"/../outside/secret").b)
		}, hgfs.OpOpen},
		{"open-v3 creating outside", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 2, s, openV3(filepath.Join(c.outside, "new"), hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreateEmpty, 6))
		}, hgfs.OpOpenV3},
		{"open-v3 creating through a symlink out", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 2, s, openV3(c.root+"/out/new", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreateEmpty, 6))
		}, hgfs.OpOpenV3},
		{"setattr chmod outside", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpSetattrV2, 3, s, setattrMode(c.secret, 7, 7, 7))
		}, hgfs.OpSetattrV2},
		{"getattr outside", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpGetattrV2, 4, s, (&pkt{}).u64(0).u32(0).name(c.secret).b)
		}, hgfs.OpGetattrV2},
		{"archive read outside", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 5, s, openV3("archive:"+c.outside, hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0))
		}, hgfs.OpOpenV3},
		{"archive write outside", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 5, s, openV3("archive:"+c.outside+"/x", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 0))
		}, hgfs.OpOpenV3},
		{"hard link opened for writing", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 6, s, openV3(c.root+"/hardlink", hgfs.OpenModeWriteOnly, hgfs.OpenFlagOpen, 6))
		}, hgfs.OpOpenV3},
		{"hard link truncated on open", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 6, s, openV3(c.root+"/hardlink", hgfs.OpenModeWriteOnly, hgfs.OpenFlagOpenEmpty, 6))
		}, hgfs.OpOpenV3},
		{"hard link chmod", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpSetattrV2, 7, s, setattrMode(c.root+"/hardlink", 7, 7, 7))
		}, hgfs.OpSetattrV2},
		{"hard link truncated by setattr", rooted, func(c confined, s uint64) []byte {
			return v4(hgfs.OpSetattrV2, 7, s, setattrSize(c.root+"/hardlink", 0))
		}, hgfs.OpSetattrV2},
		{"read-only write", readOnly, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 8, s, openV3(c.root+"/inside", hgfs.OpenModeWriteOnly, hgfs.OpenFlagOpen, 6))
		}, hgfs.OpOpenV3},
		{"read-only create", readOnly, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 8, s, openV3(c.root+"/new", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6))
		}, hgfs.OpOpenV3},
		{"read-only setattr", readOnly, func(c confined, s uint64) []byte {
			return v4(hgfs.OpSetattrV2, 9, s, setattrMode(c.root+"/inside", 7, 7, 7))
		}, hgfs.OpSetattrV2},
		{"read-only archive write", readOnly, func(c confined, s uint64) []byte {
			return v4(hgfs.OpOpenV3, 10, s, openV3("archive:"+c.root+"/x", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 0))
		}, hgfs.OpOpenV3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConfined(t)
			before := snapshotDir(t, filepath.Dir(c.root))
			p := dialHGFS(t, hgfsOver(t, tt.opts(c)))
			ss := newSession(t, p.do)
			r := p.do(tt.packet(c, ss.id))
			st := hgfs.Status(binary.LittleEndian.Uint32(r[4:]))
			if tt.op >= hgfs.OpOpenV3 || len(r) >= 52 && binary.LittleEndian.Uint32(r[4:]) == 0xff {
				st = parseV4(t, r, tt.op).status
			}
			if st != hgfs.StatusAccessDenied {
				t.Errorf("status %d, want ACCESS_DENIED (%d)", st, hgfs.StatusAccessDenied)
			}
			if diff := cmpDir(before, snapshotDir(t, filepath.Dir(c.root))); diff != "" {
				t.Errorf("files changed:\n%s", diff)
			}
		})
	}
}

// TestPolicyAllows checks that the same server still serves the root:
// reading, and in a writable root writing and chmod.
func TestPolicyAllows(t *testing.T) {
	c := newConfined(t)
	p := dialHGFS(t, hgfsOver(t, files.Options{Root: c.root}))
	ss := newSession(t, p.do)
	b := ss.must(hgfs.OpOpenV3, openV3(c.root+"/made", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6))
	h := binary.LittleEndian.Uint32(b)
	ss.must(hgfs.OpWriteV3, (&pkt{}).u32(h).u8(0).u64(0).u32(2).u64(0).raw([]byte("ok")).b)
	ss.must(hgfs.OpCloseV3, (&pkt{}).u32(h).u64(0).b)
	ss.must(hgfs.OpSetattrV2, setattrMode(c.root+"/made", 6, 0, 0))
	fi, err := os.Stat(filepath.Join(c.root, "made"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("made: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(c.root, "made")); string(got) != "ok" {
		t.Errorf("made holds %q", got)
	}
}

// snapshotDir records every path under dir with its mode, size and
// contents.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		out[strings.TrimPrefix(p, dir)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cmpDir(a, b map[string]string) string {
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, k+": "+v+" -> "+b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, k+": new "+v)
		}
	}
	return strings.Join(diff, "\n")
}
