package vsock

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzParseHybridReply(f *testing.F) {
	for _, s := range []string{"OK 1073741824", "OK 0", "OK ", "OK -1", "OK 99999999999", "ERR no listener", "", "OK 12 34"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		err := parseHybridReply(line)
		rest, isOK := strings.CutPrefix(string(line), "OK ")
		_, perr := strconv.ParseUint(rest, 10, 32)
		if want := isOK && perr == nil; (err == nil) != want {
			t.Fatalf("parseHybridReply(%q) = %v, want ok=%v", line, err, want)
		}
	})
}
