package agent_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// vixMkdir is Vix_1_Relayed_Command carrying CreateDirectoryEx (178)
// of path, laid out by hand.
func vixMkdir(path string) string {
	le := binary.LittleEndian
	body := le.AppendUint32(nil, 0)
	body = le.AppendUint32(body, uint32(len(path)))
	body = le.AppendUint32(body, 0)
	body = append(body, 0)
	body = append(append(body, path...), 0)
	return vixRequest(178, body)
}

// vixRequest is Vix_1_Relayed_Command carrying op with body and a
// name/password credential.
func vixRequest(op uint32, body []byte) string {
	le := binary.LittleEndian
	cred := le.AppendUint64(nil, 0)
	cred = append(append(cred, base64.StdEncoding.EncodeToString([]byte("u\x00p\x00"))...), 0)
	h := le.AppendUint32(nil, 0xd00d0001)
	h = le.AppendUint16(h, 5)
	for _, v := range []uint32{uint32(51 + len(body) + len(cred)), 51, uint32(len(body)), uint32(len(cred))} {
		h = le.AppendUint32(h, v)
	}
	h = append(h, 1)
	h = le.AppendUint32(h, op)
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

// TestListenVMwareVIXProcessIO: with VIXProcessIO a program's stdout is
// an HGFS file of the agent; without it, there is no such file.
func TestListenVMwareVIXProcessIO(t *testing.T) {
	for _, on := range []bool{false, true} {
		a, err := agent.New(agent.Config{Files: files.Options{Root: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		vmx := &fakevmx.VMX{TB: t, HighBandwidth: true}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		vm, err := a.ListenVMware(ctx, agent.VMwareOptions{Port: vmx, VIXAuthenticate: vix.TrustVMX, VIXProcessIO: on})
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(sctx, vm.Listener) }()
		// StartProgram (185): u8, u32 path, args, dir lengths (with the
		// NUL), numEnv, envLen; the strings.
		le := binary.LittleEndian
		body := []byte{0}
		for _, v := range []uint32{10, 6, 0, 0, 0} {
			body = le.AppendUint32(body, v)
		}
		body = append(body, "/bin/echo\x00hello\x00"...)
		reply, err := vmx.Command(ctx, vixRequest(185, body))
		pid, ok := strings.CutPrefix(strings.TrimSuffix(reply, "\x00"), "OK 0 0 ")
		if err != nil || !ok {
			t.Fatalf("StartProgram: %q, %v", reply, err)
		}
		cp := "proc\x00" + pid + "\x00stdout"
		open := le.AppendUint32(le.AppendUint32(nil, 1), 0) // legacy header: id, Open
		open = le.AppendUint32(le.AppendUint32(open, 0), 0) // read-only, must exist
		open = append(le.AppendUint32(append(open, 6), uint32(len(cp))), cp+"\x00"...)
		r := a.HGFS.Dispatch(context.Background(), open)
		if st := le.Uint32(r[4:]); (st == 0) != on {
			t.Errorf("VIXProcessIO %v: opening /proc/%s/stdout: status %d", on, pid, st)
		}
		stop()
		<-done
		vm.Close()
		a.Close()
		cancel()
	}
}
