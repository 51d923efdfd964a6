package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
	"github.com/guestrpc/guestrpc/vmm/qemu"
)

// agentProcess starts sleep through the agent, as another client would,
// and returns it; it is killed at cleanup.
func agentProcess(t *testing.T, target string) *process.Process {
	t.Helper()
	ctx := context.Background()
	c, err := transport.Dial(ctx, target, rpc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := process.NewClient(c).Start(ctx, process.Spec{Path: "sleep", Args: []string{"100"}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); p.Wait(); c.Close() })
	return p
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < time.Second {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exited reports whether pid is gone or a zombie.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func TestProcessVerbs(t *testing.T) {
	t.Setenv("GUESTRPC_CLI_TEST", "a=b\nsecond line")
	target := startAgent(t)
	sleeper := agentProcess(t, target)
	victim := agentProcess(t, target)
	dir := t.TempDir()
	var startedPid int
	id := func(p *process.Process) string { return strconv.FormatUint(p.ID, 10) }
	runVerbCases(t, target, []verbCase{
		{name: "ps", args: []string{"ps"}, stdout: "COMMAND\n", check: func(t *testing.T, out string) {
			if !strings.Contains(out, "\n"+id(sleeper)+" ") || !strings.Contains(out, " sleep 100\n") {
				t.Errorf("ps:\n%s\nlacks id %d running sleep 100", out, sleeper.ID)
			}
		}},
		{name: "ps --json", args: []string{"ps", "--json"}, check: func(t *testing.T, out string) {
			var got []process.Info
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var i process.Info
				must(t, json.Unmarshal([]byte(line), &i))
				got = append(got, process.Info{ID: i.ID, PID: i.PID, Path: i.Path, Args: i.Args})
			}
			want := []process.Info{
				{ID: sleeper.ID, PID: sleeper.PID, Path: "sleep", Args: []string{"100"}},
				{ID: victim.ID, PID: victim.PID, Path: "sleep", Args: []string{"100"}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ps --json (-want +got):\n%s", diff)
			}
		}},
		{name: "kill -s TERM", args: []string{"kill", "-s", "SIGTERM", id(victim)}, check: func(t *testing.T, _ string) {
			res, err := victim.Wait()
			var e *process.ExitError
			if !errors.As(err, &e) || e.ExitCode != -1 || e.Signal != "SIGTERM" {
				t.Errorf("after kill -s TERM: %+v, %v; want killed by SIGTERM", res, err)
			}
		}},
		{name: "kill unknown id", args: []string{"kill", "999999"}, code: exitNotFound, stderr: "999999"},
		{name: "kill bad id", args: []string{"kill", "x1"}, code: exitUsage, stderr: `"x1"`},
		{name: "start", args: []string{"start", "--", "sleep", "100"}, check: func(t *testing.T, out string) {
			pid, err := strconv.Atoi(strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("start printed %q", out)
			}
			startedPid = pid
			if exited(pid) {
				t.Fatalf("pid %d is not running after start returned", pid)
			}
			if sid := sessionOf(t, pid); sid != pid {
				t.Errorf("pid %d is in session %d, not its own", pid, sid)
			}
		}},
		{name: "start outlives its call", args: []string{"start", "-e", "K=detached", "-w", dir, "--", "sh", "-c", "sleep 0.2; echo $K > out"}, check: func(t *testing.T, _ string) {
			waitFor(t, "the started command's file", func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, "out"))
				return string(b) == "detached\n"
			})
		}},
		{name: "start --json", args: []string{"start", "--json", "--", "true"}, stdout: `{"pid":`},
		{name: "start missing command", args: []string{"start", "--", "no-such-command-here"}, code: exitNotFound, stderr: "no-such-command-here: command not found"},
		{name: "kill -p", args: []string{"kill", "-p", "-s", "TERM", "0"}, code: exitUsage},
		{name: "getenv NAME", args: []string{"getenv", "GUESTRPC_CLI_TEST"}, exact: true, stdout: "GUESTRPC_CLI_TEST=a=b\nsecond line\n"},
		{name: "getenv --json", args: []string{"getenv", "--json", "GUESTRPC_CLI_TEST", "PATH"}, check: func(t *testing.T, out string) {
			var got map[string]string
			must(t, json.Unmarshal([]byte(out), &got))
			if diff := cmp.Diff(map[string]string{"GUESTRPC_CLI_TEST": "a=b\nsecond line", "PATH": os.Getenv("PATH")}, got); diff != "" {
				t.Errorf("getenv --json (-want +got):\n%s", diff)
			}
		}},
		{name: "getenv all", args: []string{"getenv"}, stdout: "\nPATH=" + os.Getenv("PATH") + "\n"},
		{name: "getenv unset", args: []string{"getenv", "HOME", "GUESTRPC_CLI_UNSET"}, code: exitNotFound, stdout: "HOME=", stderr: "GUESTRPC_CLI_UNSET"},
	})
	if startedPid == 0 {
		return
	}
	pid := strconv.Itoa(startedPid)
	runVerbCases(t, target, []verbCase{
		{name: "kill -p started", args: []string{"kill", "-p", "-s", "TERM", pid}, check: func(t *testing.T, _ string) {
			waitFor(t, "the started sleep to end", func() bool { return exited(startedPid) })
		}},
		{name: "kill -p gone", args: []string{"kill", "-p", "2147483647"}, code: exitFailed, stderr: "guest kill 2147483647"},
	})
}

// sessionOf reads the session id of pid from /proc.
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(t, err)
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest) // state ppid pgrp session ...
	sid, err := strconv.Atoi(f[3])
	must(t, err)
	return sid
}

// TestStartWithBusybox runs start where the guest's tools are busybox's
// (whose setsid has no -f), and where setsid is missing altogether.
func TestStartWithBusybox(t *testing.T) {
	lab, err := qemu.Ensure(context.Background(), false, t.Logf)
	if err != nil {
		testenv.Missing(t, "busybox from make e2e-setup: %v", err)
	}
	bb := lab.Busybox
	target := startAgent(t)
	for _, tc := range []struct {
		name       string
		tools      []string
		ownSession bool
	}{
		{"busybox setsid", []string{"sh", "setsid", "mkfifo", "mktemp", "rm", "sleep"}, true},
		{"no setsid", []string{"sh", "sleep"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, tool := range tc.tools {
				must(t, os.Symlink(bb, filepath.Join(dir, tool)))
			}
			code, out, errOut := cli(t, "", "--connect", target, "start", "-e", "PATH="+dir, "--", "sleep", "100")
			pid, err := strconv.Atoi(strings.TrimSpace(out))
			if code != exitOK || err != nil {
				t.Fatalf("start: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			defer syscall.Kill(pid, syscall.SIGKILL)
			if exited(pid) {
				t.Fatalf("pid %d is not running after start returned", pid)
			}
			if got := sessionOf(t, pid) == pid; got != tc.ownSession {
				t.Errorf("pid %d leads its own session: %v; want %v", pid, got, tc.ownSession)
			}
		})
	}
}
