package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verbCase is one CLI invocation and what it must do. Cases in a table
// run in order, so a case may depend on the ones before it.
type verbCase struct {
	name   string
	stdin  string
	args   []string // after --connect TARGET
	code   int
	stdout string // substring, unless lines or exact says otherwise
	stderr string // substring
	// exact compares stdout whole; lines compares its lines as a set.
	exact bool
	lines []string
	check func(t *testing.T, stdout string)
}

// runVerbCases runs cases against the agent at target.
func runVerbCases(t *testing.T, target string, cases []verbCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--connect", target}, tc.args...)
			code, out, errOut := cli(t, tc.stdin, args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("%q: exit %d, stderr %q; want exit %d, stderr containing %q (stdout %q)", tc.args, code, errOut, tc.code, tc.stderr, out)
			}
			switch {
			case tc.lines != nil:
				got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.lines))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%q: stdout lines (-want +got):\n%s", tc.args, diff)
				}
			case tc.exact:
				if diff := cmp.Diff(tc.stdout, out); diff != "" {
					t.Errorf("%q: stdout (-want +got):\n%s", tc.args, diff)
				}
			case !strings.Contains(out, tc.stdout):
				t.Errorf("%q: stdout %q; want it to contain %q", tc.args, out, tc.stdout)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

// TestHelp checks that every verb explains itself without an agent.
func TestHelp(t *testing.T) {
	t.Setenv("GUESTRPC_CONNECT", "")
	for name := range commands() {
		code, out, errOut := cli(t, "", "help", name)
		if code != exitOK || !strings.HasPrefix(out, "usage: guestrpc "+name) || errOut != "" {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q; want 0 and its usage on stdout", name, code, out, errOut)
		}
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"help"}, exitOK, "exit statuses"},
		{[]string{"help", "frobnicate"}, exitUsage, ""},
		{[]string{"help", "ls", "rm"}, exitUsage, ""},
	} {
		if code, out, _ := cli(t, "", tc.args...); code != tc.code || !strings.Contains(out, tc.stdout) {
			t.Errorf("%q: exit %d, stdout %q; want %d and %q", tc.args, code, out, tc.code, tc.stdout)
		}
	}
}
