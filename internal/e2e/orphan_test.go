package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/process"
)

// testOrphansReaped: each sh forks a child that outlives it, so the child
// is orphaned to PID 1, the agent, which must reap it when it exits. The
// test records each child's pid, waits until every /proc/PID is gone (a
// zombie keeps its /proc entry until reaped), then checks that the guest
// has no zombie at all.
func testOrphansReaped(ctx context.Context, t *testing.T, pc *process.Client) {
	var pids []string
	for range 20 {
		var out bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Shell: "(sleep 0.1; exit 7) & echo $!; exit 0"}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		pid := strings.TrimSpace(out.String())
		if _, err := strconv.Atoi(pid); err != nil {
			t.Fatalf("sh printed %q, want the background child's pid", out.String())
		}
		pids = append(pids, pid)
	}
	check := fmt.Sprintf("for p in %s; do test -e /proc/$p && echo $p; done; exit 0", strings.Join(pids, " "))
	var left string
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		var out bytes.Buffer
		if _, err := pc.Run(ctx, process.Spec{Shell: check}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if left = strings.TrimSpace(out.String()); left == "" {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("orphans never reaped: /proc still lists %s (of %v)", strings.Fields(left), pids)
		}
	}
	var out bytes.Buffer
	if _, err := pc.Run(ctx, process.Spec{Shell: "cat /proc/[0-9]*/stat 2>/dev/null"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var zombies []string
	for _, line := range strings.Split(out.String(), "\n") {
		if i := strings.LastIndexByte(line, ')'); i > 0 && strings.HasPrefix(line[i:], ") Z") {
			zombies = append(zombies, line)
		}
	}
	if len(zombies) > 0 {
		t.Fatalf("zombies left in the guest: %q", zombies)
	}
}
