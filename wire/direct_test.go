package wire_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/wire"
)

// TestDecodePayloadAlloc: with SetPayloadAlloc, a large DATA payload is
// read into the buffer alloc gave and handed over, so the caller keeps
// it without a copy and later frames do not overwrite it; small frames,
// other types and declined allocations decode as before. Each case runs
// with the reader stalling at every split point, as a socket with a read
// deadline does.
func TestDecodePayloadAlloc(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), wire.DirectMin/16*3)
	frames := []wire.Frame{
		{StreamID: 1, Type: wire.TypeData, Payload: big},
		{StreamID: 1, Type: wire.TypeData, Payload: []byte("small")},
		{StreamID: 3, Type: wire.TypeStatus, Payload: bytes.Repeat([]byte("s"), len(big))},
		{StreamID: 5, Type: wire.TypeData, Flags: wire.FlagFin.WithLane(2), Payload: bytes.ToUpper(big)},
	}
	var raw []byte
	for i := range frames {
		raw = wire.AppendFrame(raw, &frames[i])
	}
	tests := []struct {
		name    string
		decline bool
		want    []bool // per frame: payload from alloc
	}{
		{"alloc", false, []bool{true, false, false, true}},
		{"alloc declines", true, []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		for _, split := range []int{0, 5, 11, 200, len(big) + 3, len(raw) - 7} {
			var given [][]byte
			alloc := func(n int) []byte {
				if tt.decline {
					return nil
				}
				b := make([]byte, n)
				given = append(given, b)
				return b
			}
			pieces := [][]byte{raw}
			if split > 0 {
				pieces = [][]byte{bytes.Clone(raw[:split]), bytes.Clone(raw[split:])}
			}
			dec := wire.NewDecoder(&stallingReader{pieces: pieces}, 0)
			dec.SetPayloadAlloc(alloc)
			var got []wire.Frame
			var direct []bool
			for stalls := 0; len(got) < len(frames); {
				var f wire.Frame
				if err := dec.Decode(&f); errors.Is(err, errStall) {
					if stalls++; stalls > 10 {
						t.Fatalf("%s, split %d: no progress", tt.name, split)
					}
					continue
				} else if err != nil {
					t.Fatalf("%s, split %d: frame %d: %v", tt.name, split, len(got), err)
				}
				fromAlloc := len(given) > 0 && len(f.Payload) > 0 && &f.Payload[0] == &given[len(given)-1][0]
				direct = append(direct, fromAlloc)
				if !fromAlloc {
					f.Payload = bytes.Clone(f.Payload)
				}
				got = append(got, f) // kept as handed over: later frames must not change it
			}
			if diff := cmp.Diff(frames, got, frameCmp); diff != "" {
				t.Errorf("%s, split %d: frames (-want +got):\n%s", tt.name, split, diff)
			}
			if diff := cmp.Diff(tt.want, direct); diff != "" {
				t.Errorf("%s, split %d: payloads read into alloc's buffers (-want +got):\n%s", tt.name, split, diff)
			}
		}
	}
}

// TestIdleDecoderHoldsNoReadBuffer: a decoder that has decoded only small
// frames (a HELLO, a ping) has not allocated its read buffer, so an idle
// connection costs its decoder a few hundred bytes, not the buffer size.
func TestIdleDecoderHoldsNoReadBuffer(t *testing.T) {
	raw := wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeHello, Payload: make([]byte, 40)})
	raw = wire.AppendFrame(raw, &wire.Frame{Type: wire.TypePing, Payload: make([]byte, 8)})
	const n = 100
	decs := make([]*wire.Decoder, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range decs {
		decs[i] = wire.NewDecoderSize(bytes.NewReader(raw), 0, 64<<10)
		var f wire.Frame
		for range 2 {
			if err := decs[i].Decode(&f); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(decs)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 1<<10 {
		t.Errorf("a decoder that read two small frames allocated %d bytes, want at most 1 KiB", per)
	}
}
