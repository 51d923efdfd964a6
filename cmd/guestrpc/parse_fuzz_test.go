package main

import (
	"strings"
	"testing"
)

// FuzzParseForward: any argument parses or is refused as usage, and what
// parses names a local port and a guest address.
func FuzzParseForward(f *testing.F) {
	for _, s := range []string{"8080:80", "0:db:5432", "0.0.0.0:1:h:2", "1:unix:/a", "1:unix:", ":unix:", "::::", "1:2:3:4:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := parseForward(s)
		if err != nil {
			if exitFor(err) != exitUsage {
				t.Fatalf("parseForward(%q): %v is not a usage error", s, err)
			}
			return
		}
		if fs.local == "" || fs.guest == "" || (fs.network != "tcp" && fs.network != "unix") {
			t.Fatalf("parseForward(%q) = %+v", s, fs)
		}
	})
}

// FuzzParseEnv: every byte of env's output lands in some value or name,
// and names never hold '=' or a newline.
func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"A=1\nB=2\n", "A=x\ny\n", "=\n\n", "junk\nA=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range parseEnv(s) {
			if k == "" || strings.ContainsAny(k, "=\n") || len(k)+len(v) > len(s) {
				t.Fatalf("parseEnv(%q): %q=%q", s, k, v)
			}
		}
	})
}

// FuzzParseModeOwner: modes and owners parse within their ranges or are
// refused as usage.
func FuzzParseModeOwner(f *testing.F) {
	for _, s := range []string{"0644", "4755", "7777", "10000", "u+x", "0:0", ":5", "1:", "-1:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := parseMode(s); err == nil && m.Perm() != m&0o777 {
			t.Fatalf("parseMode(%q) = %v", s, m)
		} else if err != nil && exitFor(err) != exitUsage {
			t.Fatalf("parseMode(%q): %v", s, err)
		}
		uid, gid, err := parseOwner(s)
		if err == nil && (uid < -1 || gid < -1 || (uid == -1 && gid == -1)) {
			t.Fatalf("parseOwner(%q) = %d, %d", s, uid, gid)
		}
	})
}
