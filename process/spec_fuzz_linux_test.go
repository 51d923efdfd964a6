package process

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSpec drives process.start's decoding path with arbitrary argument
// bytes: JSON into a Spec (as rpc.Request.DecodeArgs does), Spec.check, and
// prepare, which resolves the user, environment and program without
// starting anything. Nothing may panic, and a spec that passes has
// exactly one of path and shell, KEY=VALUE environment entries without
// NUL bytes, arguments without them, and an argv that begins with the
// program. Seeds: testdata/fuzz/FuzzSpec.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{
		`{"path":"true"}`, `{"shell":"echo hi","args":["a"]}`, `{"path":"/bin/sh","shell":"x"}`,
		`{"path":"env","env":["A=1","A=2"],"replace_env":true}`, `{"path":"id","user":"nobody"}`,
		`{"path":"id","user":"65534:65534","groups":["0","nogroup"]}`, `{"path":"id","user":"x:y"}`,
		`{"shell":"x","tty":true,"rows":65535,"cols":0}`, `{"shell":"x","rows":3}`, `{"path":"x","timeout":-1}`,
		`{"path":"x","env":["=v","K"]}`, `{"path":"x","args":["a\u0000b"]}`, `null`, `[]`, `{"path":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		var spec Spec
		if err := json.Unmarshal(args, &spec); err != nil {
			return
		}
		if err := spec.check(); err != nil {
			return
		}
		if (spec.Path == "") == (spec.Shell == "") {
			t.Fatalf("%s: check passed a spec with path %q and shell %q", args, spec.Path, spec.Shell)
		}
		if spec.Timeout < 0 {
			t.Fatalf("%s: check passed a negative timeout", args)
		}
		for _, kv := range spec.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
				t.Fatalf("%s: check passed env entry %q", args, kv)
			}
		}
		for _, a := range spec.Args {
			if strings.ContainsRune(a, 0) {
				t.Fatalf("%s: check passed argument %q with a NUL byte", args, a)
			}
		}
		l, err := prepare(&spec)
		if err != nil {
			return
		}
		want := spec.Path
		if spec.Shell != "" {
			want = "sh"
		}
		if len(l.argv) == 0 || l.argv[0] != want {
			t.Fatalf("%s: argv %q, want it to begin with %q", args, l.argv, want)
		}
		seen := map[string]bool{}
		for _, kv := range l.env {
			k, _, _ := strings.Cut(kv, "=")
			if seen[k] {
				t.Fatalf("%s: environment has %s twice: %q", args, k, l.env)
			}
			seen[k] = true
		}
	})
}
