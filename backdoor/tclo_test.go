package backdoor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/rpc"
)

// waits records the loop's sleeps; each returns after a short real sleep
// so that an idle loop does not spin.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	select {
	case <-time.After(time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// serveTCLO serves the TCLO loop of vmx to a server with test methods,
// under a policy that admits only toolbox.*.
func serveTCLO(t *testing.T, vmx *fakevmx.VMX, opts backdoor.TCLOOptions) {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.RegisterHandler("toolbox.ping", rpc.Unary(func(context.Context, []byte) ([]byte, error) { return []byte{}, nil }))
	srv.RegisterHandler("toolbox.echo", rpc.Unary(func(_ context.Context, args []byte) ([]byte, error) { return args, nil }))
	srv.RegisterHandler("toolbox.fail", rpc.Unary(func(context.Context, []byte) ([]byte, error) {
		return nil, rpc.Errorf(rpc.InvalidArgument, "Unknown or invalid option")
	}))
	srv.RegisterHandler("toolbox.panic", rpc.Unary(func(context.Context, []byte) ([]byte, error) { panic("boom") }))
	srv.RegisterHandler("toolbox.json", rpc.Unary(func(context.Context, []byte) (map[string]int, error) { return map[string]int{"a": 1}, nil }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	l := backdoor.ListenTCLO(vmx, opts)
	go func() { done <- srv.Serve(ctx, rpc.WithPolicy(l, rpc.Policy{Allow: []string{"toolbox.*"}})) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func command(t *testing.T, vmx *fakevmx.VMX, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reply, err := vmx.Command(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestTCLOCommands: each command reaches the method of the same name on
// the one dispatcher, and its status is the reply, byte for byte.
func TestTCLOCommands(t *testing.T) {
	for _, hb := range []bool{false, true} {
		t.Run(fmt.Sprintf("highbw=%v", hb), func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t, HighBandwidth: hb}
			w := &waits{}
			serveTCLO(t, vmx, backdoor.TCLOOptions{Wait: w.wait})
			tests := []struct{ cmd, want string }{
				{"ping", "OK "},
				{"echo hello world", "OK hello world"},
				{"echo", "OK "},
				{"echo ", "OK "},
				{"echo  two spaces", "OK  two spaces"},
				{"echo \x00\xff\xfebinary\x00", "OK \x00\xff\xfebinary\x00"},
				{"fail broadcastIP 2", "ERROR Unknown or invalid option"},
				{"json", `OK {"a":1}`},
				{"panic", `ERROR handler for "toolbox.panic" panicked: boom`},
				{"nosuch", "ERROR Unknown Command"},
				{"nosuch with args", "ERROR Unknown Command"},
				{"sys.info", "ERROR Unknown Command"},
				{"sys.ping", "ERROR Unknown Command"},
				{"", "ERROR Bad command"},
				{" ping", "ERROR Bad command"},
				{"pi\x00ng", "ERROR Unknown Command"},
				{"\xffping", "ERROR Unknown Command"},
				{string(make([]byte, 300)) + "x", "ERROR Unknown Command"},
				{"ping", "OK "},
			}
			for _, tt := range tests {
				if got := command(t, vmx, tt.cmd); got != tt.want {
					t.Errorf("%q: reply %q, want %q", tt.cmd, got, tt.want)
				}
			}
		})
	}
}

// TestTCLOPollDelay: while idle the loop backs off 1, 2, 4, 8, 10, 10
// units of 10 ms (rpcin.c); a command resets the delay, so its reply
// goes out at once and the back-off starts again from 1.
func TestTCLOPollDelay(t *testing.T) {
	vmx := &fakevmx.VMX{TB: t}
	gate := make(chan time.Duration)
	release := make(chan struct{})
	wait := func(ctx context.Context, d time.Duration) error {
		select {
		case gate <- d:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	serveTCLO(t, vmx, backdoor.TCLOOptions{Wait: wait})
	ms := time.Millisecond
	var got []time.Duration
	for range 6 {
		got = append(got, <-gate)
		release <- struct{}{}
	}
	got = append(got, <-gate)
	vmx.QueueTCLO("ping")
	release <- struct{}{}
	got = append(got, <-gate) // after the command: send the reply, one idle poll, then 1 unit
	if diff := cmp.Diff([]time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms, 100 * ms, 10 * ms}, got); diff != "" {
		t.Errorf("poll delays (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"OK "}, vmx.Replies()); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	close(release) // later waits block on gate until the session closes
}

// TestTCLOReopens: after a channel error the loop closes both channels,
// waits RestartDelay, reopens and goes on serving; a checkpoint in the
// middle of a command's transfer delivers the command once.
func TestTCLOReopens(t *testing.T) {
	tests := []struct {
		name    string
		fault   fakevmx.Fault
		restart bool
	}{
		{"receive-size fails", fakevmx.Fault{Op: fakevmx.OpRecvSize, Status: fakevmx.StatusFail}, true},
		{"poll send fails", fakevmx.Fault{Op: fakevmx.OpSendSize, Status: fakevmx.StatusFail}, true},
		{"checkpoint in a command", fakevmx.Fault{Op: fakevmx.OpRecvPayload, Status: fakevmx.StatusCheckpoint}, false},
		{"checkpoint in a reply", fakevmx.Fault{Op: fakevmx.OpSendPayload, Status: fakevmx.StatusCheckpoint}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t}
			w := &waits{}
			rpci := backdoor.NewRPCI(vmx, false)
			defer rpci.Close()
			if _, err := rpci.Call(context.Background(), []byte("log before\x00")); err != nil {
				t.Fatal(err)
			}
			serveTCLO(t, vmx, backdoor.TCLOOptions{Wait: w.wait, RPCI: rpci, RestartDelay: 7 * time.Second})
			vmx.Inject(tt.fault)
			for range 3 {
				if got := command(t, vmx, "echo abcdefgh"); got != "OK abcdefgh" {
					t.Fatalf("reply %q", got)
				}
			}
			restarted := false
			for _, d := range w.get() {
				restarted = restarted || d == 7*time.Second
			}
			if restarted != tt.restart {
				t.Errorf("waited RestartDelay: %v, want %v (waits %v)", restarted, tt.restart, w.get())
			}
			if _, err := rpci.Call(context.Background(), []byte("log after\x00")); err != nil {
				t.Fatalf("RPCI after the TCLO loop's restart: %v", err)
			}
			opens := 1
			if tt.restart {
				opens = 2 // both channels reopened
			}
			if got := [2]int{vmx.Opens(backdoor.ProtoTCLO), vmx.Opens(backdoor.ProtoRPCI)}; got != [2]int{opens, opens} {
				t.Errorf("TCLO, RPCI channels opened %v times, want %d each", got, opens)
			}
			if diff := cmp.Diff([]string{"OK abcdefgh", "OK abcdefgh", "OK abcdefgh"}, vmx.Replies()); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
		})
	}
}

// The listener yields one session at a time and stops on Close.
func TestTCLOListenerClose(t *testing.T) {
	l := backdoor.ListenTCLO(&fakevmx.VMX{TB: t}, backdoor.TCLOOptions{})
	ch, err := l.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch.RemoteAddr().Network() != "vmware-tclo" {
		t.Errorf("network %q", ch.RemoteAddr().Network())
	}
	l.Close()
	ch.Close()
	if _, err := l.Accept(context.Background()); !errors.Is(err, context.Canceled) && err == nil {
		t.Errorf("Accept after Close: %v", err)
	}
}

// TestTCLOPortOps counts the port operations one TCLO command costs the
// guest, from the poll that fetches it to the poll that sends its reply:
// SENDSIZE(0), RECVSIZE, INSB, RECVSTATUS, then SENDSIZE, OUTSB, RECVSIZE
// with high bandwidth offered — 7; in low bandwidth one more per 4 bytes.
func TestTCLOPortOps(t *testing.T) {
	for _, tt := range []struct {
		hb   bool
		want int
	}{{true, 7}, {false, 1 + 1 + 6 + 1 + 1 + 5 + 1}} {
		t.Run(fmt.Sprintf("highbw=%v", tt.hb), func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t, HighBandwidth: tt.hb}
			gate := make(chan struct{})
			release := make(chan struct{})
			wait := func(ctx context.Context, d time.Duration) error {
				select {
				case gate <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			serveTCLO(t, vmx, backdoor.TCLOOptions{Wait: wait})
			<-gate // idle, between polls
			before := vmx.Ops()
			vmx.QueueTCLO("echo 0123456789abcdef") // 21 bytes; the reply 19
			release <- struct{}{}
			<-gate
			if got := vmx.Ops() - before; got != tt.want {
				t.Errorf("%d port operations for a command and its reply, want %d", got, tt.want)
			}
			if diff := cmp.Diff([]string{"OK 0123456789abcdef"}, vmx.Replies()); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			close(release)
		})
	}
}

// A session the server refuses (here: a policy that wants a token the
// VMX cannot give) is retried only after RestartDelay each time, never
// in a spin, and the VMX's channel is left alone.
func TestTCLORefusedSessionWaits(t *testing.T) {
	vmx := &fakevmx.VMX{TB: t}
	waited := make(chan time.Duration, 16)
	wait := func(ctx context.Context, d time.Duration) error {
		select {
		case waited <- d:
		default:
		}
		select {
		case <-time.After(time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	l := backdoor.ListenTCLO(vmx, backdoor.TCLOOptions{Wait: wait, RestartDelay: 3 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, rpc.WithPolicy(l, rpc.Policy{Token: []byte("secret")})) }()
	for range 3 {
		select {
		case d := <-waited:
			if d != 3*time.Second {
				t.Errorf("waited %v between refused sessions, want RestartDelay", d)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no wait between refused sessions")
		}
	}
	cancel()
	<-done
	if n := vmx.Opens(backdoor.ProtoTCLO); n != 0 {
		t.Errorf("a refused session opened the TCLO channel %d times", n)
	}
}
