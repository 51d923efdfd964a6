package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSmapsHeader: only the agent's own read-only mappings are released;
// writable ones, other files, anonymous memory and the key lines of
// smaps are not.
func TestSmapsHeader(t *testing.T) {
	const exe = "/usr/bin/guestrpc agent"
	type result struct {
		Start, End uint64
		Header     bool
	}
	for _, tc := range []struct {
		name, line string
		want       result
	}{
		{"code", "00400000-00679000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent\n", result{0x400000, 0x679000, true}},
		{"read-only data", "00679000-00939000 r--p 00279000 fd:01 1234                      /usr/bin/guestrpc agent\n", result{0x679000, 0x939000, true}},
		{"writable data", "00939000-0095e000 rw-p 00539000 00:2e 1234 /usr/bin/guestrpc agent\n", result{Header: true}},
		{"another file", "7f0000000000-7f0000001000 r-xp 00000000 00:2e 99 /usr/lib/libc.so.6\n", result{Header: true}},
		{"a longer path", "00400000-00679000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent2\n", result{Header: true}},
		{"anonymous", "0095e000-02995000 rw-p 00000000 00:00 0\n", result{Header: true}},
		{"empty range", "00400000-00400000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent\n", result{Header: true}},
		{"unaligned", "00400001-00679000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent\n", result{Header: true}},
		{"key line", "Anonymous:             0 kB\n", result{}},
		{"flags line", "VmFlags: rd ex mr mw me sd\n", result{}},
		{"bad hex", "0040000g-00679000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent\n", result{}},
		{"too many digits", "00000000000400000-00679000 r-xp 00000000 00:2e 1234 /usr/bin/guestrpc agent\n", result{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, header := smapsHeader([]byte(tc.line), exe)
			if diff := cmp.Diff(tc.want, result{s.start, s.end, header}); diff != "" {
				t.Errorf("smapsHeader(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// FuzzSmapsHeader: any line gives either nothing or a page-aligned,
// non-empty range.
func FuzzSmapsHeader(f *testing.F) {
	f.Add([]byte("00400000-00679000 r-xp 00000000 00:2e 1234 /a b\n"), "/a b")
	f.Add([]byte("Anonymous:  0 kB\n"), "/a")
	f.Fuzz(func(t *testing.T, line []byte, exe string) {
		s, _ := smapsHeader(line, exe)
		page := uint64(os.Getpagesize())
		if s != (span{}) && (s.end <= s.start || s.start%page != 0 || s.end%page != 0) {
			t.Fatalf("smapsHeader(%q) = %#x-%#x", line, s.start, s.end)
		}
	})
}

// TestReleaseText: the test binary releases its own code and read-only
// data and goes on running from them.
func TestReleaseText(t *testing.T) {
	n, err := releaseText()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("released nothing")
	}
	if _, err := releaseText(); err != nil { // runs again from the pages just released
		t.Fatal(err)
	}
}

// TestReadOnlySegments: of the binary's mappings, those that hold
// private pages (relocated read-only data) are kept.
func TestReadOnlySegments(t *testing.T) {
	const smaps = `00400000-00679000 r-xp 00000000 00:2e 1234 /bin/agent
Size:               2532 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00679000-00680000 r--p 00279000 00:2e 1234 /bin/agent
Size:                 28 kB
Anonymous:             8 kB
00680000-00939000 r--p 00280000 00:2e 1234 /bin/agent
Anonymous:             0 kB
00939000-0095e000 rw-p 00539000 00:2e 1234 /bin/agent
Anonymous:             0 kB
0095e000-02995000 rw-p 00000000 00:00 0
Anonymous:            84 kB
`
	var got []span
	err := readOnlySegments(strings.NewReader(smaps), "/bin/agent", func(s span) error { got = append(got, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x679000}, {0x680000, 0x939000}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(span{})); diff != "" {
		t.Errorf("segments (-want +got):\n%s", diff)
	}
}
