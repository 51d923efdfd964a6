//go:build linux

package vix_test

import (
	"strings"
	"testing"
)

const badHeader = "10000 0 \x00"

// TestHeaderRules breaks each rule of VixMsg_ValidateRequestMsg and
// VMAutomationMsgParserInit once: each gets BAD_HEADER, and the same
// request unbroken (GetToolsState, op 62, no credential) succeeds.
func TestHeaderRules(t *testing.T) {
	s, _ := setup(t)
	good := func() hdrFields { f := fields(62, nil, nil); f.credType = 0; return f }
	msg := func(f hdrFields, tail []byte) []byte { return args(cat(f.bytes(), tail)) }
	with := func(mod func(*hdrFields)) []byte { f := good(); mod(&f); return msg(f, nil) }
	big := make([]byte, 65500)
	tests := []struct {
		name string
		args []byte
	}{
		{"no arguments", nil},
		{"only a quote", []byte(`"`)},
		{"no NUL after the name", []byte(`"VixRelayedCommand"`)},
		{"message shorter than a header", args(good().bytes()[:50])},
		{"magic", with(func(f *hdrFields) { f.magic = 0xd00d0002 })},
		{"version 4", with(func(f *hdrFields) { f.version = 4 })},
		{"version 6", with(func(f *hdrFields) { f.version = 6 })},
		{"headerLength 50", with(func(f *hdrFields) { f.hlen = 50; f.total = 50 })},
		{"headerLength 52", msg(func() hdrFields { f := good(); f.hlen = 52; f.total = 52; return f }(), []byte{0})},
		{"total one short", with(func(f *hdrFields) { f.total-- })},
		{"total one long", msg(func() hdrFields { f := good(); f.total++; return f }(), []byte{0})},
		{"total beyond 64 KiB", msg(func() hdrFields { f := fields(62, big, nil); f.credType = 0; return f }(), big)},
		{"REQUEST flag clear", with(func(f *hdrFields) { f.flags = 0x80 })},
		{"auth data flagged, absent", with(func(f *hdrFields) { f.reqFlags = 0x10 })},
		{"body beyond the bytes", with(func(f *hdrFields) { f.blen = 100; f.total = 151 })},
		{"credential beyond the bytes", with(func(f *hdrFields) { f.clen = 100; f.total = 151 })},
		{"lengths wrap 32 bits", with(func(f *hdrFields) { f.blen = 0xFFFFFFFF; f.clen = 0xFFFFFFFF; f.total = 49 })},
		{"body shorter than the op's fixed part", request(193, le64(1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := call(t, s, tc.args); got != badHeader {
				t.Errorf("reply %q, want BAD_HEADER %q", got, badHeader)
			}
		})
	}
	t.Run("control", func(t *testing.T) {
		got := call(t, s, msg(good(), nil))
		if !strings.HasPrefix(got, "0 0 ") {
			t.Errorf("valid GetToolsState: %q", got)
		}
		f := good()
		f.reqFlags = 0x10
		f.total += 44
		if got := call(t, s, msg(f, make([]byte, 44))); !strings.HasPrefix(got, "0 0 ") {
			t.Errorf("valid GetToolsState with auth data: %q", got)
		}
		f = good()
		f.total = 52
		f.blen = 1
		if got := call(t, s, msg(f, []byte{0})); !strings.HasPrefix(got, "0 0 ") {
			t.Errorf("valid GetToolsState with a body byte: %q", got)
		}
	})
}
