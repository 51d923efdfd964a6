//go:build linux

package vix_test

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// replyShape is every reply: "<err> <errno> " and a result that is
// either "#"-binary or NUL-terminated.
var replyShape = regexp.MustCompile(`(?s)^-?[0-9]+ -?[0-9]+ (#.*|[^\x00]*\x00)$`)

// fuzzServer runs ops against an agent without methods: every op's body
// is parsed and checked, and nothing runs.
func fuzzServer(f *testing.F) *vix.Server {
	return newVIX(f, agentSrv(f, f.TempDir(), true), nil)
}

func checkReply(t *testing.T, s *vix.Server, a []byte) {
	reply, err := s.Handle(testCtx(t), a)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(reply) > vix.MaxReply || !replyShape.Match(reply) {
		t.Fatalf("reply %q (%d bytes)", reply, len(reply))
	}
}

// FuzzHeader feeds whole TCLO arguments: the framing, the header, the
// credential and the body.
func FuzzHeader(f *testing.F) {
	s := fuzzServer(f)
	f.Add([]byte{})
	f.Add([]byte(`"`))
	f.Add(request(62, nil))
	f.Add(request(177, listBody("/tmp", "a", 0, 10, 0)))
	f.Add(binaryRequest(84, hgfsBody([]byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, a []byte) { checkReply(t, s, a) })
}

// FuzzOpBody wraps a body in a valid header for each op served.
func FuzzOpBody(f *testing.F) {
	s := fuzzServer(f)
	seeds := map[uint32][]byte{
		185: startBody("/nonexistent", "-x", "/", "A=1"), 186: listProcBody(0, 0, 1, 2), 193: cat(le64(5), le32(0)),
		187: envBody("HOME"), 181: tempBody("a", "b", "/tmp"), 182: tempBody("", "", ""), 194: pathBody("/x"),
		195: dirBody("/x", 1), 178: dirBody("/x", 0), 179: moveBody("/a", "/b", 1), 180: moveBody("/a", "/b", 0),
		177: listBody("/", "^a", 1, 2, 1), 183: attrBody(0x7f, 1, 2, 3, 4, 0o755, 1, 1, "/x"),
		188: listBody("/x", "", 0, 0, 0), 189: cat(le32(0), le32(2), []byte{1}, cstr("/x")), 84: hgfsBody([]byte{1, 0, 0, 0, 3, 0, 0, 0}),
	}
	for op, body := range seeds {
		f.Add(op, body)
	}
	f.Fuzz(func(t *testing.T, op uint32, body []byte) {
		if len(body) > 60000 {
			return
		}
		checkReply(t, s, request(op, body))
	})
}

// FuzzPropertyList decodes a property list; what decodes re-encodes to
// the same bytes.
func FuzzPropertyList(f *testing.F) {
	f.Add(cat(prop(4503, 2, cstr("x")), prop(4501, 1, le32(1)), prop(1, 3, []byte{1}), prop(2, 5, le64(9)), prop(3, 6, nil)))
	f.Add(prop(1, 2, []byte("no nul")))
	f.Add(cat(le32(1), le32(1), le32(0xFFFFFFFF)))
	f.Fuzz(func(t *testing.T, b []byte) {
		props, ok := vix.ParsePropertyList(b)
		if !ok {
			return
		}
		var again []byte
		for _, p := range props {
			again = cat(again, prop(uint32(p.ID), uint32(p.Type), p.Value))
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, was %x", again, b)
		}
	})
}
