package main

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

// runAsQuickstart makes the test binary run main (see TestMain).
const runAsQuickstart = "GUESTRPC_TEST_RUN_AS_QUICKSTART"

func TestMain(m *testing.M) {
	if os.Getenv(runAsQuickstart) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestQuickstartProcess runs the quickstart as a process and checks that
// it exits 0 and prints every step it promises, in order, with the
// results each step must have.
func TestQuickstartProcess(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runAsQuickstart+"=1", "TMPDIR="+tmp)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("quickstart: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	want := regexp.MustCompile(`(?s)^` +
		`connected to quickstart-agent over unix:\S+/agent\.sock in \S+\n` +
		`sys\.ping x1000: median \S+, min \S+, max \S+\n` +
		`sys\.info: linux/\w+ kernel \S+, agent \S+, methods: [^\n]*\bdemo\.greet\b[^\n]*\bprocess\.start\b[^\n]*\n` +
		`demo\.greet \(registered with RegisterHandler\): "hello, quickstart, from the agent" in \S+\n` +
		`exec sh -c [^\n]+:\n` +
		`  stdout \| line 1 from Linux\n` +
		`  stdout \| line 2 from Linux\n` +
		`  stdout \| line 3 from Linux\n` +
		`  stderr \| to stderr\n` +
		`  exit code 3 after \S+ \(output streamed as it was produced\)\n` +
		`upload   32 MiB to \S+/guest-copy\.bin: \S+ \(\d+ MiB/s\), sha256 verified by the agent\n` +
		`download 32 MiB back: \S+ \(\d+ MiB/s\), sha256 [0-9a-f]{12}… matches\n$`)
	if !want.Match(out) {
		t.Fatalf("quickstart output does not match %s:\n%s", want, out)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("quickstart left %v in its temporary directory (%v)", left, err)
	}
}
