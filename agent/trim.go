package agent

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// DefaultTrimDelay is how long the agent waits after a bulk transfer
// before giving the memory it freed back to the system (Config.TrimDelay).
const DefaultTrimDelay = time.Second

// bulk reports whether method moves file contents: the buffers a
// transfer goes through leave the Go heap with pages that the runtime
// would otherwise keep resident until its periodic GC, minutes later —
// several MB on an agent whose private memory is 1 MB at rest.
func bulk(method string) bool {
	switch method {
	case "file.read", "file.write", "file.archive":
		return true
	}
	return false
}

// trimmer returns freed heap pages to the system once no bulk transfer
// has ended for delay and none is in flight: a trim in the middle of a
// transfer would collect and hand back the pages the transfer is about
// to fault in again (under emulation, a second of CPU). Its timer is
// armed only by a bulk transfer, so an idle agent never wakes for it.
type trimmer struct {
	delay time.Duration
	free  func()

	mu     sync.Mutex
	timer  *time.Timer
	armed  bool
	active int // bulk calls in flight: no trim runs while one is
}

func newTrimmer(delay time.Duration, free func()) *trimmer {
	if free == nil {
		free = freeMemory
	}
	return &trimmer{delay: delay, free: free}
}

// largeArgs is the size of arguments past which a call counts as bulk
// whatever its method: a peer that sends many such calls (up to the
// memory budget) leaves as many freed pages behind as a transfer does.
const largeArgs = 64 << 10

// middleware holds trims off while a bulk method, or a call with large
// arguments, runs, and arms the trimmer when it returns.
func (t *trimmer) middleware(next rpc.Handler) rpc.Handler {
	return rpc.HandlerFunc(func(ctx context.Context, call *rpc.Request) (any, error) {
		if !bulk(call.Method) && len(call.Args) < largeArgs {
			return next.ServeRPC(ctx, call)
		}
		t.begin()
		defer t.arm()
		return next.ServeRPC(ctx, call)
	})
}

// begin holds trims off until the matching arm.
func (t *trimmer) begin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active++
	if t.timer != nil {
		t.timer.Stop()
	}
}

// arm ends a bulk call that begin started (tests call it alone) and,
// once none is in flight, (re)starts the countdown to a trim.
func (t *trimmer) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active = max(t.active-1, 0)
	t.armed = true
	if t.active > 0 {
		return // the last one to end starts the countdown
	}
	if t.timer == nil {
		t.timer = time.AfterFunc(t.delay, t.fire)
		return
	}
	t.timer.Reset(t.delay)
}

func (t *trimmer) fire() {
	t.mu.Lock()
	if t.active > 0 || !t.armed {
		// A transfer began as the timer went off; its end re-arms it.
		t.mu.Unlock()
		return
	}
	t.armed = false
	t.mu.Unlock()
	t.free()
}

// freeMemory collects twice — the first collection only moves what
// sync.Pools hold (the rpc layer's chunk buffers among them) to their
// victim caches, the second frees it — and returns the free pages to
// the system.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// pending reports whether a trim is due.
func (t *trimmer) pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.armed
}

// stop cancels a pending trim.
func (t *trimmer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
	t.armed = false
}
