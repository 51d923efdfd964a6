package e2e

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/sysinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestGuest boots one guest and runs the scenarios that share it.
func TestGuest(t *testing.T) {
	vm := qemu.Start(t, qemu.Config{})
	c := vm.Ready(t)
	t.Cleanup(func() { c.Close() })
	ctx := ctxFor(t, 5*time.Minute)

	t.Run("info reports the guest kernel", func(t *testing.T) {
		info, err := sysinfo.NewClient(c).Info(ctx)
		if err != nil {
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

	t.Run("50 concurrent calls on one port", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := sysinfo.NewClient(c).Info(ctx); err != nil {
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

	t.Run("guest.nicinfo reads the guest kernel's interfaces", func(t *testing.T) {
		res, err := nicinfo.NewClient(c).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// QEMU runs with -nodefaults: lo, brought up by init, is all there is.
		lo := slices.IndexFunc(res.Interfaces, func(i nicinfo.Interface) bool { return i.Name == "lo" })
		if lo < 0 || !res.Interfaces[lo].Up || !res.Interfaces[lo].Loopback ||
			!slices.ContainsFunc(res.Interfaces[lo].Addrs, func(a nicinfo.Addr) bool { return a.IP.String() == "127.0.0.1" && a.PrefixLen == 8 }) {
			t.Fatalf("no up loopback interface with 127.0.0.1/8 in %+v", res.Interfaces)
		}
		msg, err := nicinfo.NicInfoMessage(res.V3(nicinfo.Select{}), nicinfo.MethodV3)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("guest: %d interfaces, %d routes, primary IP %q, NicInfo message of %d bytes", len(res.Interfaces), len(res.Routes), res.PrimaryIP, len(msg))
	})

	t.Run("virtio-serial: a HELLO mid-session starts a new session", func(t *testing.T) {
		c.Close()
		testHelloMidSession(ctxFor(t, 30*time.Second), t, vm)
	})

	t.Run("virtio-serial: garbage then a HELLO resyncs", func(t *testing.T) {
		testGarbageResync(ctxFor(t, 30*time.Second), t, vm)
	})

	t.Run("reconnect 100 times without leaking or spinning", func(t *testing.T) {
		c = testReconnects(ctx, t, vm, c)
	})

	t.Run("power.halt powers the VM off", func(t *testing.T) {
		if err := c.Call(ctx, "power.halt", nil, nil); err != nil {
			t.Fatal(err)
		}
		requirePowerOff(t, vm)
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

	// init as PID 1 shuts down on SIGTERM and powers the machine off.
	// The kill's own reply may be lost as the agent goes.
	_, _ = process.NewClient(c).Run(ctxFor(t, time.Minute), process.Spec{Shell: "kill -TERM 1"}, nil, io.Discard, io.Discard)
	requirePowerOff(t, vm)
	if !strings.Contains(vm.Console(), `msg="serving ended; powering off"`) {
		t.Errorf("no shutdown line from init after SIGTERM; console:\n%s", vm.Console())
	}
}

// BenchmarkGuestPing measures the protocol PING round trip to a guest
// over virtio-serial: GUESTRPC_E2E=1 go test -run '^$' -bench . ./internal/e2e/
func BenchmarkGuestPing(b *testing.B) {
	vm := qemu.Start(b, qemu.Config{})
	c := vm.Ready(b)
	ctx := context.Background()
	var rtts []time.Duration
	for b.Loop() {
		d, err := c.Ping(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, d)
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	b.ReportMetric(float64(rtts[len(rtts)/2]), "p50-ns")
	b.ReportMetric(float64(rtts[len(rtts)*99/100]), "p99-ns")
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
