package backdoor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/guestrpc/guestrpc/wire"
)

// FuzzTCLOCommand: any command either names a method under the prefix,
// with the argument bytes carried exactly, or gets an immediate reply.
func FuzzTCLOCommand(f *testing.F) {
	for _, s := range []string{"ping", "reset", "Set_Option broadcastIP 1", "Set_Option", "", " ", "a  b",
		"Vix_1_Relayed_Command \"abc\"\x00\x01\xd0\x0d", "\xff", "OS_Halt", strings.Repeat("x", 300)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		method, args, reply := tcloCommand(DefaultMethodPrefix, msg)
		if (reply == "") == (method == "") {
			t.Fatalf("%q: method %q and reply %q", msg, method, reply)
		}
		if reply != "" {
			if !strings.HasPrefix(reply, "ERROR ") {
				t.Fatalf("%q: immediate reply %q", msg, reply)
			}
			return
		}
		name, rest, _ := bytes.Cut(msg, []byte(" "))
		if method != DefaultMethodPrefix+string(name) || len(method) > 256 {
			t.Fatalf("%q: method %q", msg, method)
		}
		var got []byte
		if err := json.Unmarshal(args, &got); err != nil || !bytes.Equal(got, rest) {
			t.Fatalf("%q: args %s decode to %q (%v), want %q", msg, args, got, err, rest)
		}
		if _, err := wire.ParseOpen(wire.AppendOpen(nil, 0, method, args)); err != nil {
			t.Fatalf("%q: OPEN does not parse: %v", msg, err)
		}
	})
}

// FuzzTCLOReply: any STATUS payload becomes an OK or ERROR reply.
func FuzzTCLOReply(f *testing.F) {
	f.Add(wire.AppendStatus(nil, 0, "", []byte("ATR toolbox")))
	f.Add(wire.AppendStatus(nil, 3, "Unknown or invalid option", nil))
	f.Add(wire.AppendStatus(nil, 12, "unknown method", nil))
	f.Add([]byte{0, 0, 0xff, 0xff})
	f.Add(wire.AppendStatus(nil, 0, "", make([]byte, MaxMessage-2)))
	f.Fuzz(func(t *testing.T, p []byte) {
		r := tcloReply(p)
		if !strings.HasPrefix(r, "OK ") && !strings.HasPrefix(r, "ERROR ") || len(r) > MaxMessage {
			t.Fatalf("reply %q", r)
		}
	})
}
