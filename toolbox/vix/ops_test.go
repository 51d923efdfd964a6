//go:build linux

package vix_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// Bodies, by hand from the op table (vixCommands.h).

func startBody(path, args, dir string, env ...string) []byte {
	opt := func(s string) []byte {
		if s == "" {
			return nil
		}
		return cstr(s)
	}
	var envb []byte
	for _, e := range env {
		envb = append(envb, cstr(e)...)
	}
	p, a, d := opt(path), opt(args), opt(dir)
	return cat([]byte{0}, le32(uint32(len(p))), le32(uint32(len(a))), le32(uint32(len(d))),
		le32(uint32(len(env))), le32(uint32(len(envb))), p, a, d, envb)
}

func listProcBody(key, offset uint32, pids ...uint64) []byte {
	b := cat(le32(key), le32(offset), le32(uint32(len(pids))))
	for _, p := range pids {
		b = append(b, le64(p)...)
	}
	return b
}

func pathBody(p string) []byte { return cat(le32(0), le32(uint32(len(p))), cstr(p)) }

func dirBody(p string, flag byte) []byte {
	return cat(le32(0), le32(uint32(len(p))), le32(0), []byte{flag}, cstr(p))
}

func moveBody(from, to string, overwrite byte) []byte {
	return cat(le32(0), le32(uint32(len(from))), le32(uint32(len(to))), le32(0), []byte{overwrite}, cstr(from), cstr(to))
}

func tempBody(prefix, suffix, dir string) []byte {
	return cat(le32(0), le32(uint32(len(prefix))), le32(uint32(len(suffix))), le32(uint32(len(dir))), le32(0),
		cstr(prefix), cstr(suffix), cstr(dir))
}

func listBody(p, pattern string, index, maxResults int32, offset uint64) []byte {
	b := cat(le32(0), le32(uint32(len(p))), le32(uint32(len(pattern))), le32(uint32(index)), le32(uint32(maxResults)), le64(offset), cstr(p))
	if pattern != "" {
		b = append(b, cstr(pattern)...)
	}
	return b
}

func envBody(names ...string) []byte {
	var nb []byte
	for _, n := range names {
		nb = append(nb, cstr(n)...)
	}
	return cat(le32(uint32(len(names))), le32(uint32(len(nb))), nb)
}

func attrBody(flags int32, atime, mtime int64, uid, gid, perms int32, hidden, ro byte, p string) []byte {
	return cat(le32(uint32(flags)), le64(uint64(atime)), le64(uint64(mtime)), le32(uint32(uid)), le32(uint32(gid)),
		le32(uint32(perms)), []byte{hidden, ro}, le32(uint32(len(p))), cstr(p))
}

func prop(id, typ uint32, v []byte) []byte { return cat(le32(id), le32(typ), le32(uint32(len(v))), v) }

func TestGetToolsState(t *testing.T) {
	s, _ := setup(t)
	f := fields(62, nil, nil)
	f.credType = 0
	got := call(t, s, args(f.bytes()))
	want := cat(prop(4503, 2, cstr("Test OS 1.0")), prop(4520, 2, cstr("testos")), prop(4511, 2, cstr("guestrpc")),
		prop(4500, 2, cstr("9.9.9")), prop(4505, 2, cstr("guest1")), prop(4501, 1, le32(1)), prop(4502, 1, le32(1)),
		prop(4504, 2, cstr("")), prop(203, 2, cstr(os.TempDir())), prop(4519, 1, le32(64)))
	if w := "0 0 " + base64.StdEncoding.EncodeToString(want) + "\x00"; got != w {
		t.Errorf("reply\n got %q\nwant %q", got, w)
	}
}

func TestAuthentication(t *testing.T) {
	root := t.TempDir()
	srv := agentSrv(t, root, false)
	var seen []vix.Credential
	tests := []struct {
		name string
		auth vix.Authenticator
		want string
	}{
		{"default refuses", nil, "35 0 \x00"},
		{"refused", func(_ context.Context, c vix.Credential) (string, error) {
			seen = append(seen, c)
			return "", fmt.Errorf("no")
		}, "35 0 \x00"},
		{"accepted", func(_ context.Context, c vix.Credential) (string, error) {
			seen = append(seen, c)
			return "", nil
		}, "0 0 \x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newVIX(t, srv, func(o *vix.Options) { o.Authenticate = tc.auth })
			if got := call(t, s, request(178, dirBody(filepath.Join(root, tc.name), 0))); got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
		})
	}
	want := vix.Credential{Type: 4, Name: "root", Password: "secret"}
	if diff := cmp.Diff([]vix.Credential{want, want}, seen); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(root, "default refuses")); err == nil {
		t.Error("the refused op ran")
	}
}

func TestUnknownOp(t *testing.T) {
	s, _ := setup(t)
	if got := call(t, s, request(999, nil)); got != "3025 0 \x00" {
		t.Errorf("reply %q", got)
	}
}

// waitExited polls ListProcessesEx for pid until it has exited and
// returns its <proc> entry.
func waitExited(t *testing.T, s *vix.Server, pid string) string {
	t.Helper()
	var n uint64
	fmt.Sscan(pid, &n)
	for i := 0; i < 3000; i++ {
		got := call(t, s, request(186, listProcBody(0, 0, n)))
		if strings.Contains(got, "<eTime>") && !strings.Contains(got, "<eTime>0</eTime>") {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %s never exited", pid)
	return ""
}

var pidReply = regexp.MustCompile(`^0 0 ([0-9]+)\x00$`)

func startProgram(t *testing.T, s *vix.Server, body []byte) string {
	t.Helper()
	got := call(t, s, request(185, body))
	m := pidReply.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("StartProgram reply %q", got)
	}
	return m[1]
}

func TestStartProgramAndList(t *testing.T) {
	s, root := setup(t)
	out := filepath.Join(root, "out")
	pid := startProgram(t, s, startBody("/bin/sh", `-c 'echo "$V" > out; exit 3'`, root, "V=<hi>"))
	entry := waitExited(t, s, pid)
	want := regexp.MustCompile(`^0 0 <proc><cmd>sh</cmd><name>%22/bin/sh%22 -c %27echo %22\$V%22 %3E out; exit 3%27</name><pid>` + pid +
		`</pid><user>[^<]+</user><start>[0-9]+</start><eCode>3</eCode><eTime>[0-9]+</eTime></proc>\x00$`)
	if !want.MatchString(entry) {
		t.Errorf("entry %q", entry)
	}
	if b, _ := os.ReadFile(out); string(b) != "<hi>\n" {
		t.Errorf("the program wrote %q (env or dir not passed)", b)
	}
	// The exited program stays listed.
	if got := call(t, s, request(186, listProcBody(0, 0))); !strings.Contains(got, "<pid>"+pid+"</pid>") {
		t.Errorf("full list lacks %s", pid)
	}
	for name, body := range map[string][]byte{
		"missing program":   startBody("/nonexistent/prog", "", ""),
		"no program":        startBody("", "x", ""),
		"env without =":     startBody("/bin/true", "", "", "NOEQUALS"),
		"env count too big": func() []byte { b := startBody("/bin/true", "", "", "A=1"); b[13] = 2; return b }(),
	} {
		got := call(t, s, request(185, body))
		want := map[string]string{"missing program": "4 0 \x00", "no program": "3 0 \x00",
			"env without =": "3 0 \x00", "env count too big": "10001 0 \x00"}[name]
		if got != want {
			t.Errorf("%s: reply %q, want %q", name, got, want)
		}
	}
}

func TestTerminateProcess(t *testing.T) {
	s, _ := setup(t)
	pid := startProgram(t, s, startBody("/bin/sleep", "30", ""))
	var n uint64
	fmt.Sscan(pid, &n)
	if got := call(t, s, request(193, cat(le64(n), le32(0)))); got != "0 0 \x00" {
		t.Fatalf("TerminateProcess: %q", got)
	}
	if entry := waitExited(t, s, pid); !strings.Contains(entry, "<eCode>-1</eCode>") {
		t.Errorf("killed program: %q", entry)
	}
	if got := call(t, s, request(193, cat(le64(1), le32(0)))); got != "20003 0 \x00" {
		t.Errorf("pid 1 (not started through VIX): %q", got)
	}
}

func TestListProcessesPaging(t *testing.T) {
	s, _ := setup(t)
	long := strings.Repeat("x", 30000)
	var pids []uint64
	for range 3 {
		pid := startProgram(t, s, startBody("/bin/true", long, ""))
		waitExited(t, s, pid)
		var n uint64
		fmt.Sscan(pid, &n)
		pids = append(pids, n)
	}
	whole := call(t, s, request(186, listProcBody(0, 0, pids...)))
	first := regexp.MustCompile(`^0 0 <key>([0-9]+)</key><totalSize>([0-9]+)</totalSize><leftToSend>([0-9]+)</leftToSend>`).FindStringSubmatch(whole)
	if first == nil {
		t.Fatalf("first page %.200q", whole)
	}
	var key, total, left uint32
	fmt.Sscan(first[1], &key)
	fmt.Sscan(first[2], &total)
	fmt.Sscan(first[3], &left)
	data := strings.TrimSuffix(whole[len(first[0]):], "\x00")
	if uint32(len(data))+left != total || left == 0 {
		t.Fatalf("first page: %d bytes, left %d, total %d", len(data), left, total)
	}
	for left > 0 {
		page := call(t, s, request(186, listProcBody(key, uint32(len(data)))))
		m := regexp.MustCompile(`^0 0 <leftToSend>([0-9]+)</leftToSend>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("next page %.100q", page)
		}
		fmt.Sscan(m[1], &left)
		data += strings.TrimSuffix(page[len(m[0]):], "\x00")
	}
	if uint32(len(data)) != total || strings.Count(data, "<proc>") != 3 || !strings.HasSuffix(data, "</proc>") {
		t.Errorf("reassembled %d of %d bytes, %d entries", len(data), total, strings.Count(data, "<proc>"))
	}
	if got := call(t, s, request(186, listProcBody(key, 0))); got != "1 0 \x00" {
		t.Errorf("finished key reused: %.100q", got)
	}
}

func TestReadEnvVariables(t *testing.T) {
	s, _ := setup(t)
	tests := []struct {
		body []byte
		want string
	}{
		{envBody("HOME", "ODD", "MISSING"), "0 0 <ev>HOME=/root</ev><ev>ODD=%3Ca%26b%3E</ev>\x00"},
		{envBody(), "0 0 <ev>HOME=/root</ev><ev>PATH=/bin</ev><ev>ODD=%3Ca%26b%3E</ev>\x00"},
		{cat(le32(2), le32(5), cstr("HOME")), "10001 0 \x00"},
	}
	for _, tc := range tests {
		if got := call(t, s, request(187, tc.body)); got != tc.want {
			t.Errorf("body %x: reply %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestReplyCap: a result past 64 KiB less OVT's prefix room is
// NO_MEM (2) with no result, as OVT's oversized-buffer path answers.
func TestReplyCap(t *testing.T) {
	root := t.TempDir()
	big := "BIG=" + strings.Repeat("v", 65483-len("<ev>BIG=</ev>"))
	for _, tc := range []struct {
		env  string
		want string
	}{
		{big, "0 0 <ev>" + big + "</ev>\x00"},
		{big + "v", "2 0 \x00"},
	} {
		s := newVIX(t, agentSrv(t, root, true), func(o *vix.Options) { o.Environ = func() []string { return []string{tc.env} } })
		if got := call(t, s, request(187, envBody())); got != tc.want {
			t.Errorf("env of %d bytes: reply of %d bytes %.20q", len(tc.env), len(got), got)
		}
	}
}

func TestCreateTemporary(t *testing.T) {
	s, root := setup(t)
	for op, isDir := range map[uint32]bool{181: false, 182: true} {
		got := call(t, s, request(op, tempBody("pre", ".suf", root)))
		m := regexp.MustCompile(`^0 0 (` + regexp.QuoteMeta(root) + `/pre[0-9a-f]{12}\.suf)\x00$`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("op %d: reply %q", op, got)
		}
		fi, err := os.Stat(m[1])
		if err != nil || fi.IsDir() != isDir {
			t.Errorf("op %d: %v, dir %v", op, err, fi != nil && fi.IsDir())
		}
	}
	if got := call(t, s, request(181, tempBody("pre", "", "/etc"))); got != "13 13 \x00" {
		t.Errorf("outside the root: %q", got)
	}
}
