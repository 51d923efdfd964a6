package backdoor_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/guestrpc/guestrpc/backdoor"
)

// scripted is a VMX whose every answer comes from a fuzzer's bytes: each
// call takes the status and registers it returns from the script, and a
// high-bandwidth receive fills the guest's buffer from it. When the
// script runs out the VMX answers failure, so every exchange ends.
type scripted struct {
	script []byte
	calls  int
}

func (s *scripted) take(n int) []byte {
	b := make([]byte, n)
	k := copy(b, s.script)
	s.script = s.script[k:]
	return b
}

func (s *scripted) answer(r *backdoor.Regs) {
	s.calls++
	b := s.take(12)
	*r = backdoor.Regs{
		CX: uint64(binary.LittleEndian.Uint32(b[0:4])),
		BX: uint64(binary.LittleEndian.Uint32(b[4:8])),
		DX: uint64(binary.LittleEndian.Uint32(b[8:12])),
	}
}

func (s *scripted) InOut(r *backdoor.Regs)                      { s.answer(r) }
func (s *scripted) HighBandwidthOut(r *backdoor.Regs, _ []byte) { s.answer(r) }
func (s *scripted) HighBandwidthIn(r *backdoor.Regs, buf []byte) {
	s.answer(r)
	copy(buf, s.take(min(len(buf), 64)))
}
func (s *scripted) Close() error { return nil }

// FuzzChannelScript runs a whole TCLO exchange — open, poll (an empty
// send), receive, reply, close — against a VMX answering with arbitrary
// status words, sizes and message types. It must end in a bounded number
// of calls, never panic, never return a message over MaxMessage, and
// report every failure as ErrChannel or ErrTooLarge. Seeds:
// testdata/fuzz/FuzzChannelScript.
func FuzzChannelScript(f *testing.F) {
	word := func(cx, bx, dx uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, cx)
		b = binary.LittleEndian.AppendUint32(b, bx)
		return binary.LittleEndian.AppendUint32(b, dx)
	}
	ok := uint32(0x0001) << 16
	cat := func(ws ...[]byte) []byte {
		var out []byte
		for _, w := range ws {
			out = append(out, w...)
		}
		return out
	}
	// A well-behaved VMX queueing "ping" (low bandwidth).
	f.Add(cat(word(ok, 0, 7<<16), word(ok, 0, 0), word(ok|0x0002<<16, 4, 1<<16), word(ok, 0x676e6970, 2<<16), word(ok, 0, 0), word(ok, 0, 0), word(ok, 0, 0)))
	// A VMX announcing more than MaxMessage.
	f.Add(cat(word(ok, 0, 7<<16), word(ok, 0, 0), word(ok|0x0002<<16, backdoor.MaxMessage+1, 1<<16), word(ok, 0, 0)))
	// The same over high bandwidth, which would deliver it in one call.
	f.Add(cat(word(ok, 0, 7<<16), word(ok, 0, 0), word(ok|0x0082<<16, backdoor.MaxMessage+1, 1<<16), word(0, 0x0001<<16, 0), word(ok, 0, 0)))
	// High bandwidth, with a checkpoint in the middle.
	f.Add(cat(word(ok, 0, 7<<16), word(ok, 0, 0), word(ok|0x0082<<16, 16, 1<<16), word(0, 0x0010<<16, 0), word(ok|0x0082<<16, 16, 1<<16), word(0, 0x0001<<16, 0)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		vmx := &scripted{script: script}
		ch, err := backdoor.OpenChannel(vmx, backdoor.ProtoTCLO)
		if err != nil {
			checkErr(t, err)
			return
		}
		if err := ch.Send(nil); err != nil {
			checkErr(t, err)
		}
		msg, got, err := ch.Receive()
		if err != nil {
			checkErr(t, err)
		}
		if len(msg) > backdoor.MaxMessage {
			t.Fatalf("received %d bytes, over MaxMessage", len(msg))
		}
		if got && err == nil {
			if err := ch.Send([]byte("OK ")); err != nil {
				checkErr(t, err)
			}
		}
		_ = ch.Close()
		// Checkpoint retries are bounded (8 per message), and a payload
		// takes a call per 4 bytes.
		if limit := 16 + 9*(backdoor.MaxMessage/4+4); vmx.calls > limit {
			t.Fatalf("%d calls to the VMX, over %d", vmx.calls, limit)
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, backdoor.ErrChannel) && !errors.Is(err, backdoor.ErrTooLarge) {
		t.Fatalf("error %v is neither ErrChannel nor ErrTooLarge", err)
	}
}
