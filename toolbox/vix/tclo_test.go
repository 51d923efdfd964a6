//go:build linux

package vix_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
)

// TestThroughTCLO runs VIX requests as a VMX sends them: TCLO commands
// to the toolbox on an rpc server, whose VIX hook runs the ops on the
// agent's handlers; the replies are compared byte for byte.
func TestThroughTCLO(t *testing.T) {
	root := t.TempDir()
	agent := agentSrv(t, root, false)
	s := newVIX(t, agent, nil)
	vmx := &fakevmx.VMX{TB: t, HighBandwidth: true}
	rpci := backdoor.NewRPCI(vmx, false)
	svc, err := toolbox.NewService(toolbox.Options{RPCI: rpci, VIX: s.Handle})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(agent)
	l := backdoor.ListenTCLO(vmx, backdoor.TCLOOptions{RPCI: rpci, PollUnit: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, rpc.WithPolicy(l, toolbox.Policy())) }()
	t.Cleanup(func() {
		cancel()
		<-done
		svc.Close()
		rpci.Close()
	})
	d := filepath.Join(root, "d")
	for _, tc := range []struct {
		name string
		cmd  []byte
		want string
	}{
		{"CreateDirectoryEx", request(178, dirBody(d, 0)), "OK 0 0 \x00"},
		{"CreateDirectoryEx again", request(178, dirBody(d, 0)), "OK 12 0 \x00"},
		{"ListFiles", request(177, listBody(d, "^x", 0, 10, 0)), "OK 0 0 <rem>0</rem>\x00"},
		{"bad header", args([]byte("short")), "OK 10000 0 \x00"},
		{"unknown op", request(12345, nil), "OK 3025 0 \x00"},
	} {
		got, err := vmx.Command(testCtx(t), "Vix_1_Relayed_Command "+string(tc.cmd))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: reply %q, want %q", tc.name, got, tc.want)
		}
	}
}
