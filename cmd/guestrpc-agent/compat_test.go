package main

import (
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/guestrpc/guestrpc/agent"
)

// TestCompatFlags: each seed protocol's flag alone is something to
// serve, and reaches agent.CompatOptions. (Parsing only: serving them
// would open AF_VSOCK.)
func TestCompatFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want agent.CompatOptions
	}{
		{[]string{"--matchlock"}, agent.CompatOptions{Matchlock: true, ProkshyDir: "/usr/local/etc/prokshy/command.d"}},
		{[]string{"--prokshy", "prokshy", "--prokshy-dir", "/etc/cmds"}, agent.CompatOptions{Prokshy: "prokshy", ProkshyDir: "/etc/cmds"}},
		{[]string{"--vsockexec", "2:1024"}, agent.CompatOptions{VsockExec: "2:1024", ProkshyDir: "/usr/local/etc/prokshy/command.d"}},
		{[]string{"--vsockexec", ":1025,persistent"}, agent.CompatOptions{VsockExec: ":1025", VsockExecPersistent: true, ProkshyDir: "/usr/local/etc/prokshy/command.d"}},
	} {
		o, code := parse(tc.args, io.Discard)
		if o == nil {
			t.Errorf("parse %q: exit %d", tc.args, code)
			continue
		}
		if d := cmp.Diff(tc.want, o.compat.options(nil), cmpopts.IgnoreFields(agent.CompatOptions{}, "Logger")); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.args, d)
		}
	}
}
