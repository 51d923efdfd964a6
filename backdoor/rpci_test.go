package backdoor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRPCIReplies(t *testing.T) {
	tests := []struct {
		reply   string
		want    string
		wantErr error
		reason  string
	}{
		{reply: "1 ", want: ""},
		{reply: "1 value with spaces\x00", want: "value with spaces\x00"},
		{reply: "0 No value found", wantErr: backdoor.ErrRPCIFailed, reason: "No value found"},
		{reply: "0 ", wantErr: backdoor.ErrRPCIFailed, reason: ""},
		{reply: "", wantErr: backdoor.ErrChannel},
		{reply: "1", wantErr: backdoor.ErrChannel},
		{reply: "2 x", wantErr: backdoor.ErrChannel},
		{reply: "1x", wantErr: backdoor.ErrChannel},
		{reply: "OK ", wantErr: backdoor.ErrChannel},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.reply), func(t *testing.T) {
			vmx := &fakevmx.VMX{TB: t, RPCI: func([]byte) []byte { return []byte(tt.reply) }}
			c := backdoor.NewRPCI(vmx, false)
			defer c.Close()
			got, err := c.Call(context.Background(), []byte("info-get guestinfo.x\x00"))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Call: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			var re *backdoor.RPCIError
			if errors.As(err, &re) && (re.Request != "info-get" || re.Reason != tt.reason) {
				t.Errorf("RPCIError = %+v, want request info-get, reason %q", re, tt.reason)
			}
		})
	}
}

// Concurrent callers take turns: the strict VMX fails the test if a
// request goes out before the previous reply was read.
func TestRPCIOneAtATime(t *testing.T) {
	for _, hb := range []bool{false, true} {
		vmx := &fakevmx.VMX{TB: t, HighBandwidth: hb, RPCI: func(req []byte) []byte { return append([]byte("1 "), req...) }}
		c := backdoor.NewRPCI(vmx, false)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := fmt.Sprintf("log request %d\x00", i)
				got, err := c.Call(context.Background(), []byte(req))
				if err != nil || string(got) != req {
					t.Errorf("Call %d = %q, %v", i, got, err)
				}
			}()
		}
		wg.Wait()
		if n := len(vmx.Requests()); n != 16 {
			t.Errorf("VMX saw %d requests, want 16", n)
		}
		c.Close()
	}
}

// After a channel failure the next call opens a new channel.
func TestRPCIReopens(t *testing.T) {
	vmx := &fakevmx.VMX{TB: t}
	c := backdoor.NewRPCI(vmx, false)
	defer c.Close()
	vmx.Inject(fakevmx.Fault{Op: fakevmx.OpSendPayload, Status: fakevmx.StatusFail})
	if _, err := c.Call(context.Background(), []byte("log x\x00")); !errors.Is(err, backdoor.ErrChannel) {
		t.Fatalf("Call with a failing send: %v, want ErrChannel", err)
	}
	if _, err := c.Call(context.Background(), []byte("log y\x00")); err != nil {
		t.Fatalf("Call after the failure: %v", err)
	}
	if diff := cmp.Diff([]string{"log y\x00"}, vmx.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestRPCICanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	vmx := &fakevmx.VMX{TB: t}
	if _, err := backdoor.NewRPCI(vmx, false).Call(ctx, []byte("log x\x00")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call with a canceled context: %v", err)
	}
	if n := vmx.Ops(); n != 0 {
		t.Errorf("%d port operations for a canceled call", n)
	}
}
