package agent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
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

	var info rpc.Info
	if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"sys.ping", "process.start", "net.dial", "file.write", "file.read", "hgfs.packet", "power.halt", "guest.nicinfo"} {
		if !slices.Contains(info.Methods, m) {
			t.Errorf("method %s missing from %v", m, info.Methods)
		}
	}

	if res, err := nicinfo.Get(ctx, c); err != nil || !slices.ContainsFunc(res.Interfaces, func(i nicinfo.Interface) bool { return i.Loopback }) {
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

	if err := c.Call(ctx, "power.reboot", power.Request{Delay: "0s"}, nil); err != nil {
		t.Fatal(err)
	}
	if op := <-acted; op != power.Reboot {
		t.Fatalf("power acted %q, want reboot", op)
	}
}
