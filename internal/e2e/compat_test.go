package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"

	"github.com/guestrpc/guestrpc/compat/prokshy"
)

// TestSeedProtocols boots the init with the seed protocols switched on
// from the kernel command line: matchlock and vsock_guest_exec are driven
// from inside the guest over AF_VSOCK loopback (CID 1, admitted by
// guestrpc.allow_cid), prokshy from the host over a real virtio-serial
// port.
func TestSeedProtocols(t *testing.T) {
	vm := qemu.Start(t, qemu.Config{
		Programs:   map[string]string{"/bin/compatprobe": "./internal/e2e/compatprobe"},
		ExtraPorts: []string{"prokshy"},
		Cmdline: "guestrpc.allow_cid=1,2 guestrpc.matchlock=1 guestrpc.vsockexec=1:7000,persistent " +
			"guestrpc.prokshy=prokshy guestrpc.prokshy_dir=/tmp/prokshy",
	})
	c := vm.Ready(t)
	t.Cleanup(func() { c.Close() })
	ctx := ctxFor(t, 5*time.Minute)
	pc := process.NewClient(c)
	probe := func(t *testing.T, rep any, args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Path: "/bin/compatprobe", Args: args}, nil, &out, &errOut); err != nil {
			t.Fatalf("compatprobe %v: %v\n%s", args, err, errOut.String())
		}
		if err := json.Unmarshal(out.Bytes(), rep); err != nil {
			t.Fatalf("compatprobe output %q: %v", out.String(), err)
		}
	}

	t.Run("matchlock over vsock loopback", func(t *testing.T) {
		type report struct {
			Exec        string `json:"exec"`
			ExitCode    int    `json:"exit_code"`
			StreamBytes int    `json:"stream_bytes"`
			FileSame    bool   `json:"file_same"`
			Listed      bool   `json:"listed"`
		}
		var got report
		probe(t, &got, "matchlock")
		want := report{Exec: "hi\n", ExitCode: 3, StreamBytes: 4 << 20, FileSame: true, Listed: true}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("matchlock in the guest (-want +got):\n%s", d)
		}
	})

	t.Run("vsockexec persistent over vsock loopback", func(t *testing.T) {
		var got struct {
			Lines []string `json:"lines"`
		}
		probe(t, &got, "vsockexec", "7000")
		if d := cmp.Diff([]string{"first", "second"}, got.Lines); d != "" {
			t.Errorf("vsock_guest_exec commands (-want +got):\n%s", d)
		}
	})

	t.Run("prokshy over virtio-serial, then native on the same port", func(t *testing.T) {
		script := "#!/bin/sh\ntr a-z A-Z\n"
		if _, err := files.NewClient(c).Upload(ctx, strings.NewReader(script), "/tmp/prokshy/upper",
			files.WriteOptions{Mode: 0o755, Parents: true}); err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("unix", vm.PortSocket("prokshy"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = prokshy.Run(ctx, conn, "upper", "over virtio-serial", &out, prokshy.RunOptions{Idle: time.Second, First: time.Minute})
		conn.Close()
		if err != nil || out.String() != "OVER VIRTIO-SERIAL" {
			t.Fatalf("prokshy upper: %q, %v", out.String(), err)
		}
		conn, err = net.Dial("unix", vm.PortSocket("prokshy"))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := rpc.NewClient(ctx, channel.NewStream(conn, channel.StreamOptions{}), rpc.ClientOptions{})
		if err != nil {
			t.Fatalf("native HELLO on the prokshy port: %v", err)
		}
		defer nc.Close()
		var echo bytes.Buffer
		if _, err := process.NewClient(nc).Run(ctx, process.Spec{Shell: "echo native"}, nil, &echo, nil); err != nil || echo.String() != "native\n" {
			t.Errorf("native exec on the prokshy port: %q, %v", echo.String(), err)
		}
	})
}
