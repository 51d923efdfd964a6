package matchlock_test

import (
	"context"
	"crypto/sha256"
	"io"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/rpc"
)

// heapPeak samples the heap while fn runs and returns its peak above
// the heap before. The heap it samples holds garbage not yet collected
// as well as live objects, and how much garbage piles up depends on how
// soon the collector gets a CPU: on a loaded machine a transfer that
// keeps a few MiB live grew the default-paced heap past twice that. So
// the collector runs at GOGC=10 meanwhile, which keeps garbage to a
// tenth of the live heap (past a floor of a few hundred KiB) and makes
// the peak follow what the transfer holds.
func heapPeak(t *testing.T, fn func()) uint64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
		}
	})
	t0 := time.Now()
	fn()
	defer func() { t.Logf("took %v, peak %d KiB", time.Since(t0), (peak-base)>>10) }()
	close(stop)
	wg.Wait()
	return peak - base
}

// pattern is an endless reader of a non-trivial byte pattern.
type pattern struct{ block []byte }

func (p *pattern) Read(b []byte) (int, error) {
	if p.block == nil {
		p.block = make([]byte, 4093) // prime, so blocks do not align with chunks
		for k := range p.block {
			p.block[k] = byte(k*31 + k>>8)
		}
	}
	n := 0
	for n < len(b) {
		n += copy(b[n:], p.block)
	}
	return n, nil
}

// TestBigTransfersBoundedMemory: a 64 MiB file each way and 64 MiB of
// exec output (16 MiB under the race detector) move without the heap
// growing anywhere near their size (the whole file as base64 is 4/3 of
// it).
func TestBigTransfersBoundedMemory(t *testing.T) {
	e := newEnv(t, rpc.Policy{}, nil)
	ctx := context.Background()
	p := filepath.Join(e.dir, "big")
	const limit = bigLimit
	want := sha256.New()
	grew := heapPeak(t, func() {
		if err := e.cl.WriteFile(ctx, p, io.TeeReader(io.LimitReader(&pattern{}, big), want), big, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if grew > limit {
		t.Errorf("WriteFile of %d MiB grew the heap by %d MiB", big>>20, grew>>20)
	}
	got := sha256.New()
	var n int64
	grew = heapPeak(t, func() {
		var err error
		if n, err = e.cl.ReadFile(ctx, p, got); err != nil {
			t.Fatal(err)
		}
	})
	if grew > limit || n != big || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Errorf("ReadFile of %d MiB: %d bytes, sums equal %v, heap grew by %d MiB", big>>20,
			n, string(got.Sum(nil)) == string(want.Sum(nil)), grew>>20)
	}
	var out countingWriter
	grew = heapPeak(t, func() {
		resp, err := e.cl.ExecStream(ctx, matchlock.ExecRequest{Command: "head -c " + strconv.Itoa(big) + " /dev/zero"}, &out, nil)
		if err != nil || resp.ExitCode != 0 {
			t.Fatalf("ExecStream: %+v, %v", resp, err)
		}
	})
	if grew > limit || out.n != big {
		t.Errorf("ExecStream of %d MiB: %d bytes, heap grew by %d MiB", big>>20, out.n, grew>>20)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
