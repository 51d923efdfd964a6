package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// hangTrim bounds waits in the trimmer tests; reaching it means the trim
// never came.
const hangTrim = time.Minute

// TestTrimmerArmsOnBulkMethods: only the methods that move file contents
// arm a trim; others leave it alone.
func TestTrimmerArmsOnBulkMethods(t *testing.T) {
	for _, tc := range []struct {
		method string
		args   int
		arms   bool
	}{
		{"file.read", 0, true},
		{"file.write", 0, true},
		{"file.archive", 0, true},
		{"file.stat", 0, false},
		{"sys.ping", 0, false},
		{"process.start", 0, false},
		{"process.start", 64<<10 - 1, false},
		{"process.start", 64 << 10, true},
		{"hgfs.packet", 0, false},
	} {
		t.Run(fmt.Sprintf("%s, %d bytes of arguments", tc.method, tc.args), func(t *testing.T) {
			tr := newTrimmer(time.Hour, func() { t.Error("trimmed") })
			defer tr.stop()
			h := tr.middleware(rpc.HandlerFunc(func(context.Context, *rpc.Request) (any, error) { return "ok", nil }))
			res, err := h.ServeRPC(context.Background(), &rpc.Request{Method: tc.method, Args: make([]byte, tc.args)})
			if res != "ok" || err != nil {
				t.Fatalf("ServeRPC = %v, %v; want the handler's result", res, err)
			}
			if got := tr.pending(); got != tc.arms {
				t.Errorf("after %s: trim pending %v, want %v", tc.method, got, tc.arms)
			}
		})
	}
}

// TestTrimmerFiresOnce: transfers ending one after another give one
// trim, after which none is pending.
func TestTrimmerFiresOnce(t *testing.T) {
	freed := make(chan struct{}, 10)
	tr := newTrimmer(10*time.Millisecond, func() { freed <- struct{}{} })
	defer tr.stop()
	for range 3 {
		tr.arm()
	}
	select {
	case <-freed:
	case <-time.After(hangTrim):
		t.Fatal("no trim after the transfers ended")
	}
	if tr.pending() {
		t.Error("a trim is still pending after it ran")
	}
	tr.arm() // a later transfer arms it again
	select {
	case <-freed:
	case <-time.After(hangTrim):
		t.Fatal("no trim after a later transfer")
	}
}

// TestTrimmerWaitsForTransfersInFlight: a transfer that ends while
// another is still running does not trim under it; the trim comes
// after the last one ends.
func TestTrimmerWaitsForTransfersInFlight(t *testing.T) {
	freed := make(chan struct{}, 10)
	tr := newTrimmer(time.Millisecond, func() { freed <- struct{}{} })
	defer tr.stop()
	release, started := make(chan struct{}), make(chan struct{})
	h := tr.middleware(rpc.HandlerFunc(func(ctx context.Context, req *rpc.Request) (any, error) {
		if string(req.Args) == "long" {
			close(started)
			<-release
		}
		return nil, nil
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeRPC(context.Background(), &rpc.Request{Method: "file.read", Args: []byte("long")})
	}()
	<-started
	h.ServeRPC(context.Background(), &rpc.Request{Method: "file.write", Args: []byte("short")})
	// Fifty times the delay: a trim armed by the short transfer alone
	// would have run by now, in the middle of the long one.
	time.Sleep(50 * time.Millisecond)
	select {
	case <-freed:
		t.Fatal("trimmed while a transfer was in flight")
	default:
	}
	close(release)
	<-done
	select {
	case <-freed:
	case <-time.After(hangTrim):
		t.Fatal("no trim after the last transfer ended")
	}
}

// TestTrimmerStop: Close cancels a pending trim.
func TestTrimmerStop(t *testing.T) {
	tr := newTrimmer(time.Hour, func() { t.Error("trimmed after stop") })
	tr.arm()
	tr.stop()
	if tr.pending() || tr.timer.Stop() {
		t.Error("the trim is still pending after stop")
	}
}

// TestAgentTrimDelay: the agent trims by default and not with a
// negative TrimDelay.
func TestAgentTrimDelay(t *testing.T) {
	for _, tc := range []struct {
		delay time.Duration
		want  time.Duration // 0: no trimmer
	}{{0, DefaultTrimDelay}, {5 * time.Second, 5 * time.Second}, {-1, 0}} {
		a, err := New(Config{TrimDelay: tc.delay, Files: files.Options{Root: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		var got time.Duration
		if a.trim != nil {
			got = a.trim.delay
		}
		a.Close()
		if got != tc.want {
			t.Errorf("TrimDelay %v: trimmer delay %v, want %v (0: none)", tc.delay, got, tc.want)
		}
	}
}
