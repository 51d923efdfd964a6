// Command noskip runs go test with the given arguments and fails if any
// test skipped. make test runs the whole suite through it with
// GUESTRPC_E2E=1, where nothing may be missing, so a test that skips
// (and so proves nothing) fails the build instead of passing quietly:
//
//	GUESTRPC_E2E=1 go run ./internal/testutil/noskip -race -count=1 ./...
//
// It reads go test -json and prints what plain go test prints: build
// errors, the output of failed tests, and each package's summary line.
// The skipped tests, with their reasons, follow the summaries.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	events, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "noskip:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "noskip:", err)
		return 2
	}
	skips, ferr := filter(events, stdout)
	werr := cmd.Wait()
	if ferr != nil {
		fmt.Fprintln(stderr, "noskip: reading go test -json:", ferr)
		return 2
	}
	if len(skips) > 0 {
		fmt.Fprintf(stdout, "FAIL: %d tests skipped; every test must run here:\n", len(skips))
		for _, s := range skips {
			fmt.Fprintln(stdout, s)
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(werr, &exit):
		return exit.ExitCode()
	case werr != nil:
		fmt.Fprintln(stderr, "noskip:", werr)
		return 2
	case len(skips) > 0:
		return 1
	}
	return 0
}

// event is one line of go test -json (see go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// filter copies to w what go test prints without -json and returns the
// skipped tests, each as "package Test: reason". A failed test's output
// is printed with its subtests' when the top-level test ends.
func filter(r io.Reader, w io.Writer) ([]string, error) {
	type key struct{ pkg, test string }
	own := map[key][]string{}    // each test's lines, for skip reasons
	family := map[key][]string{} // a top-level test's lines with its subtests'
	var skips []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (go test prints some errors plainly).
			fmt.Fprintln(w, sc.Text())
			continue
		}
		if e.Action == "build-output" || (e.Test == "" && e.Action == "output" && !quietLine(e.Output)) {
			io.WriteString(w, e.Output)
			continue
		}
		if e.Test == "" {
			continue
		}
		k := key{e.Package, e.Test}
		top := key{e.Package, strings.SplitN(e.Test, "/", 2)[0]}
		switch e.Action {
		case "output":
			if !progressLine(e.Output) {
				own[k] = append(own[k], e.Output)
				family[top] = append(family[top], e.Output)
			}
		case "skip":
			skips = append(skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason(own[k])))
		case "fail":
			if k == top {
				io.WriteString(w, strings.Join(family[top], ""))
			}
		}
		if e.Action != "output" {
			delete(own, k)
			if k == top {
				delete(family, top)
			}
		}
	}
	return skips, sc.Err()
}

// quietLine reports whether a package's line is one go test prints only
// with -v or -json.
func quietLine(s string) bool {
	return s == "PASS\n" || s == "testing: warning: no tests to run\n"
}

// progressLine reports whether a line is one of the progress lines only
// go test -v prints.
func progressLine(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// reason is what a skipped test logged, on one line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "--- SKIP") {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}
