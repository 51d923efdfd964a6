package process_test

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/process"
)

// TestShortWait checks which path a call waits on and that both give the
// same outcome: a process that ends within the short wait is waited for
// on the call's own thread, output, grace and all, and never reaches the
// netpoller path; one that outlives it (short wait 0) or whose deadline
// comes first is handed over and still ends as it should.
func TestShortWait(t *testing.T) {
	const bgShell = `sleep 100 & echo $! >&2; echo fore` // a background child keeps the pipes open
	big := strings.Repeat("x", 1<<20)                    // more than a pipe and a flow-control window hold
	tests := []struct {
		name  string
		short time.Duration
		reap  bool
		spec  process.Spec
		want  outcome
		long  uint64 // calls that waited through the netpoller
	}{
		{"exits in time", time.Hour, false, process.Spec{Shell: "echo out; echo err >&2; exit 3"},
			outcome{Stdout: "out\n", Stderr: "err\n", Code: 3}, 0},
		{"exits in time, reaping", time.Hour, true, process.Spec{Shell: "echo out; echo err >&2; exit 3"},
			outcome{Stdout: "out\n", Stderr: "err\n", Code: 3}, 0},
		{"outlives the short wait", 0, false, process.Spec{Shell: "echo out; echo err >&2; exit 3"},
			outcome{Stdout: "out\n", Stderr: "err\n", Code: 3}, 1},
		{"signal", time.Hour, false, process.Spec{Shell: "echo x; kill -KILL $$"},
			outcome{Stdout: "x\n", Code: -1, Signal: "SIGKILL"}, 0},
		{"large output", time.Hour, false, process.Spec{Shell: "head -c 1048576 /dev/zero | tr '\\0' x"},
			outcome{Stdout: big}, 0},
		{"background child: the grace", time.Hour, false, process.Spec{Shell: bgShell},
			outcome{Stdout: "fore\n"}, 0},
		{"deadline first", time.Hour, false, process.Spec{Shell: "exec sleep 100", Timeout: 10 * time.Millisecond},
			outcome{Code: -1, Signal: "SIGKILL", TimedOut: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *process.Service
			c, _ := setupWith(t, func(o process.Options) (*process.Service, error) {
				var err error
				m, err = process.NewServiceShortWait(o, tt.short)
				return m, err
			}, process.Options{Reap: tt.reap})
			got := run(testCtx(t), c, tt.spec, nil)
			if tt.spec.Shell == bgShell {
				if bg, err := strconv.Atoi(strings.TrimSpace(got.Stderr)); err == nil {
					syscall.Kill(bg, syscall.SIGKILL)
				}
				got.Stderr = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			if n := m.LongWaits(); n != tt.long {
				t.Errorf("%d calls waited through the netpoller, want %d", n, tt.long)
			}
		})
	}
}
