package files_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/files"
)

// writeSizes records the size of each Write.
type writeSizes struct {
	sizes []int
	buf   bytes.Buffer
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.buf.Write(p)
}

// TestPushInMemorySourceWhole: an upload from memory (bytes.Reader,
// bytes.Buffer) hands the stream all of its bytes in one Write, with no
// copy into a buffer first; other sources go out in writes of at most the
// 256 KiB copy buffer, all bytes in order either way.
func TestPushInMemorySourceWhole(t *testing.T) {
	data := make([]byte, 1<<20+5)
	for i := range data {
		data[i] = byte(i % 251)
	}
	tests := []struct {
		name  string
		r     io.Reader
		sizes []int
	}{
		{"bytes.Reader", bytes.NewReader(data), []int{len(data)}},
		{"bytes.Buffer", bytes.NewBuffer(bytes.Clone(data)), []int{len(data)}},
		{"other reader", struct{ io.Reader }{bytes.NewReader(data)}, []int{256 << 10, 256 << 10, 256 << 10, 256 << 10, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writeSizes
			n, rerr, werr := files.Push(&w, tt.r)
			if rerr != nil || werr != nil || n != int64(len(data)) {
				t.Fatalf("push: %d bytes, read error %v, write error %v", n, rerr, werr)
			}
			if !bytes.Equal(w.buf.Bytes(), data) {
				t.Fatal("the bytes written differ from the source")
			}
			if diff := cmp.Diff(tt.sizes, w.sizes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}
