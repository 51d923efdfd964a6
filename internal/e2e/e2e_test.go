package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/rpc"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestGuest boots one guest and runs the scenarios that share it.
func TestGuest(t *testing.T) {
	vm := qemu.Start(t, qemu.Config{})
	c := vm.Ready(t)
	ctx := ctxFor(t, 5*time.Minute)

	t.Run("info reports the guest kernel", func(t *testing.T) {
		var info rpc.Info
		if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
			t.Fatal(err)
		}
		a := qemu.Require(t)
		if info.Kernel != a.Release {
			t.Errorf("sys.info kernel %q, want the booted %q", info.Kernel, a.Release)
		}
		if info.PID != 1 {
			t.Errorf("agent pid %d, want 1 (it is the guest's init)", info.PID)
		}
		for _, m := range []string{"sys.ping", "sys.info", "power.halt", "guest.backdoor"} {
			if !slices.Contains(info.Methods, m) {
				t.Errorf("method %s not registered; have %v", m, info.Methods)
			}
		}
		t.Logf("guest: %s %s kernel %s, uptime %v", info.OS, info.Arch, info.Kernel, info.Uptime)
	})

	t.Run("ping round trip", func(t *testing.T) {
		var rtts []time.Duration
		for range 200 {
			d, err := c.Ping(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rtts = append(rtts, d)
		}
		sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
		t.Logf("virtio-serial RTT over 200 pings: min %v, median %v, p99 %v", rtts[0], rtts[len(rtts)/2], rtts[len(rtts)*99/100])
	})

	t.Run("50 concurrent calls on one port", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var info rpc.Info
				if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("backdoor without vmport", func(t *testing.T) {
		var p backdoorProbe
		if err := c.Call(ctx, "guest.backdoor", nil, &p); err != nil {
			t.Fatal(err)
		}
		if !p.Hypervisor || p.Backdoor {
			t.Fatalf("vmport=off: got %+v, want a hypervisor without a backdoor", p)
		}
	})

	t.Run("reconnect 100 times without spinning", func(t *testing.T) {
		c.Close()
		for i := range 100 {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			rc, err := vm.Dial(rctx)
			if err != nil {
				cancel()
				t.Fatalf("reconnect %d: %v", i, err)
			}
			var info rpc.Info
			err = rc.Call(rctx, "sys.info", nil, &info)
			rc.Close()
			cancel()
			if err != nil {
				t.Fatalf("reconnect %d: sys.info: %v", i, err)
			}
		}
		// With no host connected the port reports a hang-up on every poll.
		// Leave the agent alone for a while and compare its CPU time: a
		// loop that does not back off burns a whole vCPU.
		info := func() (*rpc.Client, rpc.Info) {
			rc, err := vm.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var info rpc.Info
			if err := rc.Call(ctx, "sys.info", nil, &info); err != nil {
				t.Fatal(err)
			}
			return rc, info
		}
		rc, before := info()
		rc.Close()
		time.Sleep(3 * time.Second)
		rc, after := info()
		cpu := after.CPUTime - before.CPUTime
		wall := after.AgentUptime - before.AgentUptime
		t.Logf("after 100 reconnects, idle without a host: agent CPU %v over %v", cpu, wall)
		if cpu > wall/4 {
			t.Fatalf("agent used %v CPU in %v with no host: it spins between sessions", cpu, wall)
		}
		c = rc
	})

	t.Run("power.halt stops the VM", func(t *testing.T) {
		if err := c.Call(ctx, "power.halt", nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := vm.Wait(ctxFor(t, time.Minute)); err != nil {
			t.Fatalf("QEMU did not exit after power.halt: %v", err)
		}
		if !strings.Contains(vm.Console(), "reboot: Power down") && !strings.Contains(vm.Console(), "Power down") {
			t.Logf("console did not show the power-down message (quiet boot)")
		}
	})
}

// TestBackdoorVMPort boots with QEMU's VMware backdoor emulation on.
func TestBackdoorVMPort(t *testing.T) {
	vm := qemu.Start(t, qemu.Config{VMPort: true})
	c := vm.Ready(t)
	var p backdoorProbe
	if err := c.Call(ctxFor(t, time.Minute), "guest.backdoor", nil, &p); err != nil {
		t.Fatal(err)
	}
	t.Logf("vmport=on: %+v", p)
	if !p.Backdoor || p.Version == 0 {
		t.Fatalf("vmport=on: backdoor not detected: %+v", p)
	}
	// QEMU answers GETVERSION but not the message command: opening an RPC
	// channel must fail cleanly with a reason.
	if p.ChannelError == "" || !strings.Contains(p.ChannelError, "backdoor") {
		t.Fatalf("vmport=on: RPCI channel error %q, want a clear backdoor error", p.ChannelError)
	}
}

// backdoorProbe mirrors examples/init's guest.backdoor reply.
type backdoorProbe struct {
	Hypervisor   bool   `json:"Hypervisor"`
	Vendor       string `json:"Vendor"`
	Backdoor     bool   `json:"Backdoor"`
	Version      uint32 `json:"Version"`
	Product      uint32 `json:"Product"`
	ChannelError string `json:"channel_error"`
}
