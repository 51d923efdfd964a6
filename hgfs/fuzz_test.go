package hgfs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/hgfs"
)

// memHandler is an in-memory FileHandler, so the fuzzer never touches
// the real file system.
type memHandler struct {
	mu    sync.Mutex
	files map[string][]byte
}

type memInfo struct {
	name string
	size int64
}

func (m memInfo) Name() string       { return m.name }
func (m memInfo) Size() int64        { return m.size }
func (m memInfo) Mode() fs.FileMode  { return 0o644 }
func (m memInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (m memInfo) IsDir() bool        { return false }
func (m memInfo) Sys() any           { return nil }

func (h *memHandler) Stat(_ context.Context, u *url.URL) (fs.FileInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.files[u.Path]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return memInfo{u.Path, int64(len(b))}, nil
}

func (h *memHandler) Open(_ context.Context, u *url.URL, req hgfs.OpenRequest) (hgfs.File, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.files[u.Path]; !ok {
		if req.Flags != hgfs.OpenFlagCreate && req.Flags != hgfs.OpenFlagCreateEmpty && req.Flags != hgfs.OpenFlagCreateSafe {
			return nil, fs.ErrNotExist
		}
		h.files[u.Path] = nil
	}
	return &memFile{h: h, name: u.Path}, nil
}

func (h *memHandler) Setattr(_ context.Context, u *url.URL, a hgfs.Attr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.files[u.Path]
	if !ok {
		return fs.ErrNotExist
	}
	if a.Size != nil && *a.Size < 1<<20 {
		nb := make([]byte, *a.Size)
		copy(nb, b)
		h.files[u.Path] = nb
	}
	return nil
}

type memFile struct {
	h    *memHandler
	name string
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	b := f.h.files[f.name]
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	return copy(p, b[off:]), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if off+int64(len(p)) > 1<<20 {
		return 0, fs.ErrInvalid
	}
	b := f.h.files[f.name]
	if need := int(off) + len(p); need > len(b) {
		b = append(b, make([]byte, need-len(b))...)
	}
	copy(b[off:], p)
	f.h.files[f.name] = b
	return len(p), nil
}

func (f *memFile) Read(p []byte) (int, error)  { return 0, io.EOF }
func (f *memFile) Write(p []byte) (int, error) { return f.WriteAt(p, 0) }
func (f *memFile) Close() error                { return nil }

// dispatchSeeds are one packet of each operation.
func dispatchSeeds() [][]byte {
	var sess [8]byte
	return [][]byte{
		nil,
		{1, 2, 3},
		legacy(hgfs.OpOpen, 1, (&pkt{}).u32(0).u32(2).u8(6).name("/a").b),
		legacy(hgfs.OpClose, 2, (&pkt{}).u32(1).b),
		legacy(hgfs.OpGetattrV2, 3, (&pkt{}).u64(0).u32(0).name("/a").b),
		legacy(hgfs.OpReadV3, 4, (&pkt{}).u32(1).u64(0).u32(100).u64(0).b),
		v4(hgfs.OpCreateSessionV4, 5, 0, (&pkt{}).u32(1).u32(hgfs.LargePacketMax).u32(0).u32(0).u32(25).u32(1).b),
		v4(hgfs.OpDestroySessionV4, 6, binary.LittleEndian.Uint64(sess[:]), (&pkt{}).u64(0).b),
		v4(hgfs.OpOpenV3, 7, 0, openV3("/b", hgfs.OpenModeWriteOnly, hgfs.OpenFlagCreate, 6)),
		v4(hgfs.OpWriteV3, 8, 0, (&pkt{}).u32(1).u8(0).u64(0).u32(3).u64(0).raw([]byte("abc")).b),
		v4(hgfs.OpSetattrV2, 9, 0, (&pkt{}).u64(0).raw(make([]byte, 104)).u32(0).name("/b").b),
		v4(hgfs.OpOpenV3, 10, 0, openV3("archive:/x", hgfs.OpenModeReadOnly, hgfs.OpenFlagOpen, 0)),
	}
}

// FuzzDispatch feeds arbitrary packets to the server: it must always
// answer with a well-formed reply and never panic.
func FuzzDispatch(f *testing.F) {
	for _, s := range dispatchSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		s := newService(t, hgfs.Options{})
		mem := &memHandler{files: map[string][]byte{"/a": []byte("hello")}}
		s.HandleScheme("file", mem)
		s.HandleScheme("archive", mem)
		// Legacy requests work without a session; give the version 4
		// ones a chance by opening one with a known packet first.
		r := s.Dispatch(context.Background(), v4(hgfs.OpCreateSessionV4, 1, 0, (&pkt{}).u32(0).u32(0).u32(0).u32(0).b))
		id := binary.LittleEndian.Uint64(r[52:])
		packet = bytes.Clone(packet) // the fuzzer's input is read-only
		if len(packet) >= 52 && binary.LittleEndian.Uint32(packet[4:]) == 0xff {
			binary.LittleEndian.PutUint64(packet[36:], id)
		}
		for range 2 { // twice: the second sees the first's handles
			reply := s.Dispatch(context.Background(), packet)
			if len(reply) < 8 {
				t.Fatalf("reply of %d bytes", len(reply))
			}
			if len(reply) > hgfs.LargePacketMax {
				t.Fatalf("reply of %d bytes exceeds the maximum", len(reply))
			}
			if binary.LittleEndian.Uint32(reply[4:]) == 0xff {
				if got := binary.LittleEndian.Uint32(reply[8:]); int(got) != len(reply) {
					t.Fatalf("reply declares %d bytes, has %d", got, len(reply))
				}
			}
		}
	})
}
