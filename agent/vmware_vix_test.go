package agent_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// vixMkdir is Vix_1_Relayed_Command carrying CreateDirectoryEx (178)
// of path with a name/password credential, laid out by hand.
func vixMkdir(path string) string {
	le := binary.LittleEndian
	body := le.AppendUint32(nil, 0)
	body = le.AppendUint32(body, uint32(len(path)))
	body = le.AppendUint32(body, 0)
	body = append(body, 0)
	body = append(append(body, path...), 0)
	cred := le.AppendUint64(nil, 0)
	cred = append(append(cred, base64.StdEncoding.EncodeToString([]byte("u\x00p\x00"))...), 0)
	h := le.AppendUint32(nil, 0xd00d0001)
	h = le.AppendUint16(h, 5)
	for _, v := range []uint32{uint32(51 + len(body) + len(cred)), 51, uint32(len(body)), uint32(len(cred))} {
		h = le.AppendUint32(h, v)
	}
	h = append(h, 1)
	h = le.AppendUint32(h, 178)
	h = append(h, make([]byte, 16)...) // requestFlags, timeOut, cookie
	h = le.AppendUint32(h, 1)          // clientHandleId
	h = le.AppendUint32(h, 1)          // NAME_PASSWORD
	return "Vix_1_Relayed_Command \"x\"\x00" + string(h) + string(body) + string(cred)
}

// TestListenVMwareVIX: VIX ops are refused with AUTH_FAIL unless the
// agent trusts the VMX; trusted, they run on the agent's file policy.
func TestListenVMwareVIX(t *testing.T) {
	for _, tc := range []struct {
		name  string
		auth  vix.Authenticator
		want  string
		made  bool
		where string
	}{
		{"default", nil, "OK 35 0 \x00", false, "d"},
		{"trusted", vix.TrustVMX, "OK 0 0 \x00", true, "d"},
		{"trusted, outside the root", vix.TrustVMX, "OK 13 13 \x00", false, "/etc/guestrpc-vix-test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			a, err := agent.New(agent.Config{Files: files.Options{Root: root}})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			vmx := &fakevmx.VMX{TB: t, HighBandwidth: true}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			vm, err := a.ListenVMware(ctx, agent.VMwareOptions{Port: vmx, VIXAuthenticate: tc.auth})
			if err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Serve(sctx, vm.Listener) }()
			defer func() {
				stop()
				<-done
				vm.Close()
			}()
			p := tc.where
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			got, err := vmx.Command(ctx, vixMkdir(p))
			if err != nil || got != tc.want {
				t.Errorf("reply %q, %v; want %q", got, err, tc.want)
			}
			if _, err := os.Stat(p); (err == nil) != tc.made {
				t.Errorf("directory made: %v, want %v", err == nil, tc.made)
			}
		})
	}
}
