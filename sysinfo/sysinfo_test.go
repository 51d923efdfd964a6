package sysinfo_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/sysinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newServer(t *testing.T, opts rpc.ServerOptions) *rpc.Server {
	srv := rpc.NewServer(opts)
	s, err := sysinfo.NewService(sysinfo.Options{Version: "9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	s.Register(srv)
	t.Cleanup(func() { s.Close() })
	srv.HandleFunc("custom.method", func(context.Context, *rpc.Request) (any, error) { return nil, nil })
	return srv
}

func TestInfo(t *testing.T) {
	c := testutil.Pair(t, newServer(t, rpc.ServerOptions{}))
	ctx := testCtx(t)
	info, err := sysinfo.NewClient(c).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := sysinfo.Info{
		Version:  "9.9.9",
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
		Hostname: host,
		PID:      os.Getpid(),
		Methods:  []string{"custom.method", "sys.info", "sys.ping"},
	}
	got := *info
	got.Kernel, got.Uptime, got.AgentUptime, got.CPUTime, got.Goroutines, got.FDs = "", 0, 0, 0, 0, 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sys.info (-want +got):\n%s", diff)
	}
	if info.AgentUptime <= 0 || info.Goroutines <= 0 {
		t.Errorf("sys.info agent uptime %v, goroutines %d", info.AgentUptime, info.Goroutines)
	}
	if runtime.GOOS == "linux" && (info.Kernel == "" || info.Uptime <= 0) {
		t.Errorf("sys.info on linux: kernel %q, uptime %v", info.Kernel, info.Uptime)
	}
	if runtime.GOOS == "linux" {
		// Five more open files show up as five more descriptors.
		for range 5 {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
		}
		more, err := sysinfo.NewClient(c).Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.FDs <= 0 || more.FDs != info.FDs+5 {
			t.Errorf("sys.info fds %d, then %d after opening 5 files; want a positive count growing by 5", info.FDs, more.FDs)
		}
	}
	// Arguments are ignored, not rejected.
	if err := c.Call(ctx, "sys.info", map[string]int{"x": 1}, nil); err != nil {
		t.Errorf("sys.info with arguments: %v", err)
	}
}

// TestMethodsFollowPolicy: a peer sees only the methods its listener's
// policy lets it call.
func TestMethodsFollowPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy rpc.Policy
		want   []string
	}{
		{"everything", rpc.Policy{}, []string{"custom.method", "sys.info", "sys.ping"}},
		{"allow sys.*", rpc.Policy{Allow: []string{"sys.*"}}, []string{"sys.info", "sys.ping"}},
		{"block sys.ping", rpc.Policy{Block: []string{"sys.ping"}}, []string{"custom.method", "sys.info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, rpc.ServerOptions{})
			sock := t.TempDir() + "/a.sock"
			l, err := channel.ListenUnix(sock, channel.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ctx, rpc.WithPolicy(l, tt.policy)) }()
			defer func() { cancel(); <-done }()
			ch, err := channel.DialUnix(testCtx(t), sock, channel.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := rpc.NewClient(testCtx(t), ch, rpc.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			info, err := sysinfo.NewClient(c).Info(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, info.Methods); diff != "" {
				t.Errorf("methods (-want +got):\n%s", diff)
			}
		})
	}
}
