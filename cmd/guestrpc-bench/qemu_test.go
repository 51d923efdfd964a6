package main

import (
	"context"
	"net"
	"testing"

	"github.com/guestrpc/guestrpc/internal/bench"
)

// TestRawJobs drives the guest program's jobs (bench.ServeRaw) as the
// QEMU section does, over a pipe in place of the virtio port.
func TestRawJobs(t *testing.T) {
	host, guest := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- bench.ServeRawFiles(guest, t.TempDir()); guest.Close() }()
	s := &vmSubjects{raw: host, data: make([]byte, 1<<20)}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"one round trip", func() error { return s.rawPings(ctx, 1) }},
		{"round trips", func() error { return s.rawPings(ctx, 50) }},
		{"upload", func() error { return s.rawUpload('u', int64(len(s.data))) }},
		{"upload to a file", func() error { return s.rawUpload('f', int64(len(s.data))) }},
		{"download", func() error { return s.rawDownload('d', int64(len(s.data))) }},
		{"the download file", func() error { return s.rawUpload('p', int64(len(s.data))) }},
		{"download from the file", func() error { return s.rawDownload('g', int64(len(s.data))) }},
		{"round trip after transfers", func() error { return s.rawPings(ctx, 2) }},
	} {
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	host.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeRaw: %v", err)
	}
}
