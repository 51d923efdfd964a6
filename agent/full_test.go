package agent_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
)

func TestMain(m *testing.M) {
	if target := os.Getenv(peerChildEnv); target != "" {
		os.Exit(peerChild(target))
	}
	goleak.VerifyTestMain(m)
}

func TestNewServesEveryService(t *testing.T) {
	acted := make(chan power.Op, 1)
	a, err := agent.New(agent.Config{
		Name:  "full",
		Files: files.Options{Root: t.TempDir()},
		Power: &power.Options{Act: func(op power.Op) error { acted <- op; return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := testutil.Pair(t, a.Server)
	ctx := context.Background()

	info, err := sysinfo.NewClient(c).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"sys.ping", "sys.info", "process.start", "net.dial", "file.write", "file.read", "hgfs.packet", "power.halt", "guest.nicinfo"} {
		if !slices.Contains(info.Methods, m) {
			t.Errorf("method %s missing from %v", m, info.Methods)
		}
	}

	if res, err := nicinfo.NewClient(c).Get(ctx); err != nil || !slices.ContainsFunc(res.Interfaces, func(i nicinfo.Interface) bool { return i.Loopback }) {
		t.Fatalf("guest.nicinfo: %+v, %v; want the loopback interface", res, err)
	}

	var out bytes.Buffer
	_, err = process.NewClient(c).Run(ctx, process.Spec{Shell: "echo hi; exit 2"}, nil, &out, io.Discard)
	var exit *process.ExitError
	if !errors.As(err, &exit) || exit.ExitCode != 2 || out.String() != "hi\n" {
		t.Fatalf("exec: %q, %v; want hi and exit code 2", out.String(), err)
	}

	fc := files.NewClient(c)
	if _, err := fc.Upload(ctx, bytes.NewReader([]byte("data")), "f", files.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := fc.Download(ctx, "f", &back, files.ReadOptions{}); err != nil || back.String() != "data" {
		t.Fatalf("download: %q, %v", back.String(), err)
	}
	if _, err := fc.Stat(ctx, filepath.Join("..", "escape")); !errors.Is(err, rpc.ErrPermissionDenied) {
		t.Errorf("a path outside the root: %v, want PermissionDenied", err)
	}

	if err := power.NewClient(c).Reboot(ctx, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	if op := <-acted; op != power.Reboot {
		t.Fatalf("power acted %q, want reboot", op)
	}
}

// TestHGFSObeysFilePolicy sends hgfs.packet to an agent with a root and
// read-only files: HGFS reaches no file outside the root and changes
// nothing inside it, like file.*.
func TestHGFSObeysFilePolicy(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "inside"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{Files: files.Options{Root: root, ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := testutil.Pair(t, a.Server)
	open := func(name string, mode uint32) hgfs.Status {
		cp := strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "\x00")
		p := binary.LittleEndian.AppendUint32(nil, 1)                // request id
		p = binary.LittleEndian.AppendUint32(p, uint32(hgfs.OpOpen)) // legacy Open
		p = binary.LittleEndian.AppendUint32(p, mode)
		p = binary.LittleEndian.AppendUint32(p, hgfs.OpenFlagOpen)
		p = append(p, 6)
		p = binary.LittleEndian.AppendUint32(p, uint32(len(cp)))
		p = append(append(p, cp...), 0)
		r, err := hgfs.NewClient(c).Do(context.Background(), p)
		if err != nil || len(r) < 8 {
			t.Fatalf("hgfs.packet: %x %v", r, err)
		}
		return hgfs.Status(binary.LittleEndian.Uint32(r[4:]))
	}
	if st := open("/etc/passwd", hgfs.OpenModeReadOnly); st != hgfs.StatusAccessDenied {
		t.Errorf("open of /etc/passwd outside the root: status %d, want ACCESS_DENIED", st)
	}
	if st := open(filepath.Join(root, "inside"), hgfs.OpenModeWriteOnly); st != hgfs.StatusAccessDenied {
		t.Errorf("open for writing in read-only mode: status %d, want ACCESS_DENIED", st)
	}
	if st := open(filepath.Join(root, "inside"), hgfs.OpenModeReadOnly); st != hgfs.StatusSuccess {
		t.Errorf("open for reading inside the root: status %d", st)
	}
}
