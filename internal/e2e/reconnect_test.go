package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
)

// With no host connected the port reports a hang-up on every poll, so a
// listener that does not back off spins. A detached guest script samples
// the agent's CPU time and context switches (all threads) while no host
// is connected at all. Under TCG each wake-up of the agent costs the
// guest most of a millisecond, so the switches are the finer measure.
const (
	idleFor = 3 * time.Second
	// idleCPUBound: measured 50-140ms over idleFor (it grows with the
	// host's load, which slows TCG); a 1 kHz polling loop costs most of
	// a vCPU.
	idleCPUBound = 600 * time.Millisecond
	// idleWakeBound: measured about 70 over idleFor; a 1 kHz polling loop
	// makes thousands.
	idleWakeBound = 300
)

// testReconnects closes c, connects and disconnects 100 times, and checks
// that the agent's goroutines and open descriptors come back to what they
// were after the first connection, and that with no host connected the
// agent idles. It returns a new client.
func testReconnects(ctx context.Context, t *testing.T, vm *qemu.VM, c *rpc.Client) *rpc.Client {
	c.Close()
	dial := func() *rpc.Client { return dialFresh(ctx, t, vm) }
	info := func(rc *rpc.Client) sysinfo.Info {
		t.Helper()
		var info sysinfo.Info
		if err := rc.Call(ctx, "sys.info", nil, &info); err != nil {
			t.Fatalf("sys.info: %v", err)
		}
		return info
	}
	var first sysinfo.Info
	for i := range 100 {
		rc := dial()
		in := info(rc)
		rc.Close()
		if i == 0 {
			first = in
		}
	}
	if first.FDs <= 0 || first.Goroutines <= 0 {
		t.Fatalf("sys.info reports %d fds and %d goroutines: nothing to compare", first.FDs, first.Goroutines)
	}
	// Each session ends asynchronously: poll on one connection until the
	// counts are back where they were during the first.
	rc := dial()
	var now sysinfo.Info
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		now = info(rc)
		if now.Goroutines <= first.Goroutines && now.FDs <= first.FDs {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after 100 reconnects the agent has %d goroutines and %d open fds; it had %d and %d during the first session",
				now.Goroutines, now.FDs, first.Goroutines, first.FDs)
		}
	}
	t.Logf("after 100 reconnects: %d goroutines, %d fds (first session: %d, %d)", now.Goroutines, now.FDs, first.Goroutines, first.FDs)

	if first.CPUTime <= 0 {
		t.Errorf("sys.info reports agent CPU time %v: no CPU figure to check", first.CPUTime)
	}
	cpu, wakes := idleCost(ctx, t, vm, rc)
	if cpu > idleCPUBound || wakes > idleWakeBound {
		t.Errorf("with no host for %v the agent used %v CPU (bound %v) and switched %d times (bound %d): it spins between sessions",
			idleFor, cpu, idleCPUBound, wakes, idleWakeBound)
	}
	return dialFresh(ctx, t, vm)
}

// idleCost measures the agent's CPU time and context switches over
// idleFor with no host connected: a detached guest script samples them a
// second after c, the only host, has gone, and again idleFor later.
func idleCost(ctx context.Context, t *testing.T, vm *qemu.VM, c *rpc.Client) (time.Duration, int) {
	// utime and stime of PID 1 in clock ticks, then its threads' switches.
	const sample = `{ cut -d' ' -f14,15 /proc/1/stat; cat /proc/1/task/*/status | sed -n 's/^.*voluntary_ctxt_switches:[^0-9]*//p' | { n=0; while read v; do n=$((n+v)); done; echo $n; }; } | tr '\n' ' '`
	script := fmt.Sprintf("(sleep 1; %s > /tmp/idle0; sleep %d; %s > /tmp/idle1) </dev/null >/dev/null 2>&1 &", sample, int(idleFor.Seconds()), sample)
	if _, err := process.NewClient(c).Run(ctx, process.Spec{Shell: script}, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(idleFor + 2*time.Second)
	rc := dialFresh(ctx, t, vm)
	defer rc.Close()
	var out bytes.Buffer
	if _, err := process.NewClient(rc).Run(ctx, process.Spec{Shell: "cat /tmp/idle0; echo; cat /tmp/idle1"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var v []int
	for _, f := range strings.Fields(out.String()) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("idle samples %q: %v", out.String(), err)
		}
		v = append(v, n)
	}
	if len(v) != 6 || v[2] <= 0 {
		t.Fatalf("idle samples %q, want utime, stime and switches, twice", out.String())
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	cpu := time.Duration((v[3]+v[4])-(v[0]+v[1])) * tick
	wakes := v[5] - v[2]
	t.Logf("idle with no host for %v: agent CPU %v, %d context switches", idleFor, cpu, wakes)
	return cpu, wakes
}

func dialFresh(ctx context.Context, t *testing.T, vm *qemu.VM) *rpc.Client {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, err := vm.Dial(rctx)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
