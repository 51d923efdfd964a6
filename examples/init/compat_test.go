package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/agent"
)

func TestCompatOptions(t *testing.T) {
	const dir = "/usr/local/etc/prokshy/command.d"
	for _, tc := range []struct {
		cmdline map[string]string
		want    agent.CompatOptions
	}{
		{map[string]string{}, agent.CompatOptions{ProkshyDir: dir}},
		{map[string]string{"guestrpc.matchlock": "1"}, agent.CompatOptions{Matchlock: true, ProkshyDir: dir}},
		{map[string]string{"guestrpc.matchlock": "0"}, agent.CompatOptions{ProkshyDir: dir}},
		{map[string]string{"guestrpc.prokshy": "prokshy", "guestrpc.prokshy_dir": "/cmds"}, agent.CompatOptions{Prokshy: "prokshy", ProkshyDir: "/cmds"}},
		{map[string]string{"guestrpc.vsockexec": "2:1024,persistent"}, agent.CompatOptions{VsockExec: "2:1024", VsockExecPersistent: true, ProkshyDir: dir}},
		{map[string]string{"guestrpc.vsockexec": ""}, agent.CompatOptions{VsockExec: ":", ProkshyDir: dir}},
	} {
		if d := cmp.Diff(tc.want, compatOptions(tc.cmdline)); d != "" {
			t.Errorf("%v (-want +got):\n%s", tc.cmdline, d)
		}
	}
}
