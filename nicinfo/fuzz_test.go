package nicinfo

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecode: no input panics or is accepted beyond nicinfo.x's limits,
// and whatever decodes encodes again to a value that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, g := range goldens() {
		f.Add(g.want)
	}
	f.Add(xb{}.u32(3, 0).bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("decoded %x, but Encode refuses the result: %v", b, err)
		}
		// A proto without its body decodes as an empty body; otherwise
		// only padding bytes may differ (rpcgen ignores them).
		if absent := binary.BigEndian.Uint32(b[4:]) == 0; !absent && len(enc) != len(b) {
			t.Fatalf("decoded %d bytes, encoded %d", len(b), len(enc))
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("decode, encode, decode (-first +second):\n%s", diff)
		}
	})
}
