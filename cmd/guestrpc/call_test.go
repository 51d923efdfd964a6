package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestCallVerb(t *testing.T) {
	target := startAgent(t)
	g := t.TempDir()
	must(t, os.WriteFile(filepath.Join(g, "a"), []byte("hello"), 0o644))
	at := func(p string) string { return filepath.Join(g, p) }
	arg := func(p string) string { return `{"path":"` + at(p) + `"}` }
	runVerbCases(t, target, []verbCase{
		{name: "unary, null result", args: []string{"call", "sys.ping"}, exact: true},
		{name: "unary result to stdout", args: []string{"call", "file.stat", arg("a")}, stdout: `"name":"a","size":5,`},
		{name: "DATA to stdout, result to stderr", args: []string{"call", "file.read", arg("a")}, exact: true, stdout: "hello", stderr: `{"size":5}`},
		{name: "stdin as DATA", stdin: "from stdin\n", args: []string{"call", "-i", "file.write", arg("b")}, stdout: `"size":11`, check: func(t *testing.T, _ string) {
			if b, err := os.ReadFile(at("b")); string(b) != "from stdin\n" {
				t.Errorf("file.write from stdin wrote %q, %v", b, err)
			}
		}},
		{name: "without -i no stdin", stdin: "ignored", args: []string{"call", "file.write", arg("c")}, check: func(t *testing.T, _ string) {
			if b, err := os.ReadFile(at("c")); len(b) != 0 || err != nil {
				t.Errorf("file.write without -i wrote %q, %v", b, err)
			}
		}},
		{name: "other lanes to stderr", args: []string{"call", "process.start", `{"path":"sh","args":["-c","echo out; echo err >&2; exit 3"]}`},
			exact: true, stdout: "out\n", stderr: "err\n"},
		{name: "method not registered", args: []string{"call", "no.such"}, code: exitUnimplemented, stderr: "no.such"},
		{name: "method's NotFound", args: []string{"call", "file.stat", arg("nope")}, code: exitNotFound},
		{name: "bad JSON", args: []string{"call", "file.stat", "{path"}, code: exitUsage, stderr: "not JSON"},
		{name: "no method", args: []string{"call"}, code: exitUsage},
	})
}

func TestPowerVerbs(t *testing.T) {
	ops := make(chan power.Op, 2)
	target := startAgentConfig(t, agent.Config{
		Name:   "cli-power",
		Power:  &power.Options{Act: func(op power.Op) error { ops <- op; return nil }, Delay: time.Millisecond},
		Policy: rpc.Policy{Block: []string{"file.*"}},
	})
	got := func(want power.Op) func(*testing.T, string) {
		return func(t *testing.T, _ string) {
			if op := <-ops; op != want {
				t.Errorf("the agent did %q; want %q", op, want)
			}
		}
	}
	runVerbCases(t, target, []verbCase{
		{name: "halt", args: []string{"halt"}, check: got(power.Halt)},
		{name: "reboot -delay", args: []string{"reboot", "-delay", "1ms"}, check: got(power.Reboot)},
		{name: "delay over the agent's cap", args: []string{"halt", "-delay", "2h"}, code: exitFailed, stderr: "InvalidArgument"},
		{name: "arguments", args: []string{"reboot", "now"}, code: exitUsage},
		{name: "blocked by policy", args: []string{"stat", "/"}, code: exitDenied, stderr: "PermissionDenied"},
	})
	select {
	case op := <-ops:
		t.Errorf("unexpected power.%s", op)
	default:
	}
}
