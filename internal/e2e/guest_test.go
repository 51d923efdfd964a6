package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil/qemu"
	"github.com/guestrpc/guestrpc/process"
)

// TestGuestServices runs processes, files and vsock inside a guest with
// the agent as PID 1.
func TestGuestServices(t *testing.T) {
	vm := qemu.Start(t, qemu.Config{
		Programs: map[string]string{"/bin/vsockping": "./internal/e2e/vsockping", "/bin/guestrpc-agent": "./cmd/guestrpc-agent"},
		// Reverse mode: the agent keeps dialing vsock port 6000 on CID 1,
		// where vsockping -reverse plays a host that only accepts. The
		// agent admits vsock loopback peers (CID 1) besides the host only
		// because it is told to.
		Cmdline: "guestrpc.dial=vsock:1:6000 guestrpc.allow_cid=1,2",
	})
	c := vm.Ready(t)
	ctx := ctxFor(t, 8*time.Minute)
	pc := process.NewClient(c)
	fc := files.NewClient(c)

	t.Run("exec streams stdout and stderr and returns the exit code", func(t *testing.T) {
		var out, errOut bytes.Buffer
		_, err := pc.Run(ctx, process.Spec{Shell: "echo out; echo err >&2; exit 3"}, nil, &out, &errOut)
		var ee *process.ExitError
		if !errors.As(err, &ee) || ee.ExitCode != 3 {
			t.Fatalf("err = %v, want exit code 3", err)
		}
		if out.String() != "out\n" || errOut.String() != "err\n" {
			t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
		}
	})

	t.Run("stdin through cat", func(t *testing.T) {
		in := make([]byte, 4<<20)
		rand.Read(in)
		var out bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Path: "cat", Stdin: true}, bytes.NewReader(in), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("cat returned %d bytes, want the %d sent, byte for byte", out.Len(), len(in))
		}
	})

	t.Run("tty", func(t *testing.T) {
		var out bytes.Buffer
		_, err := pc.Run(ctx, process.Spec{Shell: "test -t 0 && stty size", TTY: true, Rows: 33, Cols: 101}, nil, &out, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out.String()); got != "33 101" {
			t.Fatalf("stty size on the guest tty: %q, want \"33 101\"", got)
		}
	})

	t.Run("background child does not hold the call", func(t *testing.T) {
		var out bytes.Buffer
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		_, err := pc.Run(rctx, process.Spec{Shell: "sleep 100 & echo hi"}, nil, &out, io.Discard)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("exec waited for the background child")
		}
		if err != nil || out.String() != "hi\n" {
			t.Fatalf("got %q, %v", out.String(), err)
		}
	})

	t.Run("orphans are reaped by PID 1", func(t *testing.T) {
		testOrphansReaped(ctx, t, pc)
	})

	t.Run("init run again as a plain process exits 1 with its reason", func(t *testing.T) {
		// Not PID 1, it mounts nothing and does not power off; the port
		// is PID 1's, so it gives up on it and exits with status 1.
		var errOut bytes.Buffer
		_, err := pc.Run(ctx, process.Spec{Path: "/init"}, nil, io.Discard, &errOut)
		var ee *process.ExitError
		if !errors.As(err, &ee) || ee.ExitCode != 1 {
			t.Fatalf("second /init: %v, want exit status 1; stderr:\n%s", err, errOut.String())
		}
		if !strings.Contains(errOut.String(), `msg="init failed"`) || !strings.Contains(errOut.String(), "virtio port") {
			t.Errorf("second /init's stderr does not name the busy port:\n%s", errOut.String())
		}
		if strings.Contains(errOut.String(), "reboot(2)") {
			t.Errorf("a second /init that is not PID 1 tried to power off:\n%s", errOut.String())
		}
	})

	t.Run("64 MiB up and down with sha256", func(t *testing.T) {
		const size = 64 << 20
		src := make([]byte, size)
		rand.Read(src)
		want := sha256.Sum256(src)
		start := time.Now()
		res, err := fc.Upload(ctx, bytes.NewReader(src), "/tmp/big.bin", files.WriteOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		up := time.Since(start)
		if res.Size != size {
			t.Fatalf("uploaded %d bytes, want %d", res.Size, size)
		}
		var out bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Shell: "sha256sum /tmp/big.bin"}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(out.String()); len(got) == 0 || got[0] != hexs(want[:]) {
			t.Fatalf("guest sha256sum %q, want %x", out.String(), want)
		}
		start = time.Now()
		h := sha256.New()
		if _, err := fc.Download(ctx, "/tmp/big.bin", h, files.ReadOptions{Checksum: true}); err != nil {
			t.Fatal(err)
		}
		down := time.Since(start)
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("downloaded bytes differ from the uploaded ones")
		}
		mib := float64(size) / (1 << 20)
		t.Logf("virtio-serial 64 MiB with sha256 checked at both ends: host→guest %.0f MiB/s (%v), guest→host %.0f MiB/s (%v)", mib/up.Seconds(), up.Round(time.Millisecond), mib/down.Seconds(), down.Round(time.Millisecond))
		start = time.Now()
		if _, err := fc.Upload(ctx, bytes.NewReader(src), "/tmp/big2.bin", files.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		up = time.Since(start)
		// Without a checksum the agent splices the file into the port
		// (header and payload of each frame in one splice): the host
		// checks what arrives.
		h.Reset()
		start = time.Now()
		if _, err := fc.Download(ctx, "/tmp/big2.bin", h, files.ReadOptions{}); err != nil {
			t.Fatal(err)
		}
		down = time.Since(start)
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("bytes downloaded without a checksum differ from the uploaded ones")
		}
		t.Logf("virtio-serial 64 MiB without protocol checksums (the host hashes what it gets): host→guest %.0f MiB/s, guest→host %.0f MiB/s", mib/up.Seconds(), mib/down.Seconds())
		fc.Remove(ctx, "/tmp/big.bin")
		fc.Remove(ctx, "/tmp/big2.bin")
	})

	t.Run("AF_VSOCK loopback inside the guest", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Path: "/bin/vsockping"}, nil, &out, &errOut); err != nil {
			t.Fatalf("vsockping: %v\n%s", err, errOut.String())
		}
		var rep struct {
			Peer        string  `json:"peer"`
			Pings       int     `json:"pings"`
			MedianRTTns int64   `json:"median_rtt_ns"`
			Bytes       int64   `json:"bytes"`
			MiBps       float64 `json:"mib_per_s"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("vsockping output %q: %v", out.String(), err)
		}
		if rep.Peer != "guestrpc-init" || rep.Pings != 200 || rep.Bytes != 32<<20 {
			t.Fatalf("vsockping report %+v", rep)
		}
		t.Logf("vsock loopback (CID 1) in the guest: median RTT %v, 32 MiB upload at %.0f MiB/s", time.Duration(rep.MedianRTTns), rep.MiBps)
	})

	t.Run("a vsock peer other than the host is refused unless allowed", func(t *testing.T) {
		vsockPeers(ctx, t, pc)
	})

	t.Run("reverse mode: the agent dials out over AF_VSOCK and serves", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Path: "/bin/vsockping", Args: []string{"-reverse", "6000"}}, nil, &out, &errOut); err != nil {
			t.Fatalf("vsockping -reverse: %v\n%s", err, errOut.String())
		}
		var rep struct {
			Peer  string `json:"peer"`
			Pings int    `json:"pings"`
			Bytes int64  `json:"bytes"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("vsockping output %q: %v", out.String(), err)
		}
		if rep.Peer != "guestrpc-init" || rep.Pings != 200 || rep.Bytes != 32<<20 {
			t.Fatalf("reverse-mode report %+v", rep)
		}
	})
}

// vsockPeers starts guestrpc-agent in the guest three times on vsock
// ports, then connects to each from the vsock loopback, CID 1: a peer
// that is not the host. Only the agents told to admit CID 1 let it in.
func vsockPeers(ctx context.Context, t *testing.T, pc *process.Client) {
	script := `
/bin/guestrpc-agent --listen vsock:5201 2>/tmp/a1.log & a=$!
/bin/guestrpc-agent --listen vsock:5202 --allow-cid 1 2>/tmp/a2.log & b=$!
/bin/guestrpc-agent --listen vsock:5203,cid=1 2>/tmp/a3.log & c=$!
for p in 5201 5202 5203; do /bin/vsockping -port $p -handshake; done
kill $a $b $c; wait`
	var out, errOut bytes.Buffer
	if _, err := pc.Run(ctx, process.Spec{Shell: script}, nil, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	type outcome struct {
		Port uint32 `json:"port"`
		Code string `json:"code"`
	}
	var got []outcome
	dec := json.NewDecoder(&out)
	for dec.More() {
		var o outcome
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("vsockping output: %v", err)
		}
		got = append(got, o)
	}
	want := []outcome{{5201, "PermissionDenied"}, {5202, "OK"}, {5203, "OK"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vsock loopback peer against agents [default, --allow-cid 1, cid=1] (-want +got):\n%s\nstderr: %s", diff, errOut.String())
	}
}

func hexs(b []byte) string {
	var sb strings.Builder
	for _, x := range b {
		sb.WriteString(fmt.Sprintf("%02x", x))
	}
	return sb.String()
}
