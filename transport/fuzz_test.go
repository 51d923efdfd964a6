package transport_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/transport"
)

// FuzzParseTarget: any string either fails to parse or parses to a
// Target that formats back to a string parsing to the same Target, with
// every list within its cap. Seeds: testdata/fuzz/FuzzParseTarget.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"unix:/run/x.sock,allow=sys.*;file.read,mode=0660,group=wheel",
		"tcp:127.0.0.1:5100,token-file=/etc/t,block=process.*",
		"vsock:5100,cid=2;3", "vsock:2:5100", "virtio:org.guestrpc.0,allow=sys.ping",
		"unix:/s,uid=0;1000,gid=10", "unix:/s,,", "unix:/s,mode=0777", "x:,", ":",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := transport.ParseTarget(s)
		if err != nil {
			return
		}
		o := tg.Options
		for _, l := range [][]string{o.Allow, o.Block} {
			if len(l) > 64 {
				t.Fatalf("%q: a list of %d items passed the cap", s, len(l))
			}
		}
		for _, l := range [][]uint32{o.UIDs, o.GIDs, o.CIDs} {
			if len(l) > 64 {
				t.Fatalf("%q: a list of %d ids passed the cap", s, len(l))
			}
		}
		if o.Mode > 0o777 {
			t.Fatalf("%q: mode %o", s, o.Mode)
		}
		_ = tg.Check()
		back, err := transport.ParseTarget(tg.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, tg.String(), err)
		}
		if diff := cmp.Diff(tg, back); diff != "" {
			t.Fatalf("%q: round trip through %q (-first +second):\n%s", s, tg.String(), diff)
		}
	})
}
