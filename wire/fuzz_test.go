package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/guestrpc/guestrpc/wire"
)

// FuzzDecode feeds arbitrary bytes to a Decoder. It must never panic;
// every frame it returns is within the cap, has a known type, and
// re-encodes to the bytes it came from; and every failure is one of the
// documented errors.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(hdr(0, 0, 1, 0)[:4])
	f.Add(wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 256 << 10, Name: "x"})}))
	f.Add(cat(
		wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: wire.AppendOpen(nil, time.Second, "sys.ping", nil)}),
		wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(2), Payload: []byte("data")}),
		wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeStatus, Payload: wire.AppendStatus(nil, 0, "", []byte("{}"))}),
	))
	f.Add(hdr(0xffffffff, 1, 3, 0))
	f.Add(hdr(5, 1, 11, 0))
	f.Add(cat(hdr(300, 1, 3, 0), make([]byte, 299)))
	const max = 1024
	f.Fuzz(func(t *testing.T, input []byte) {
		// Half-length reads and a read buffer from barely a header to
		// more than the cap exercise both the in-place and the
		// large-frame paths.
		dec := wire.NewDecoderSize(iotest.HalfReader(bytes.NewReader(input)), max, wire.HeaderSize+len(input)%(2*max))
		var out []byte
		for {
			var fr wire.Frame
			err := dec.Decode(&fr)
			if err != nil {
				switch {
				case err == io.EOF:
					if !bytes.Equal(out, input) {
						t.Fatalf("clean EOF, but the frames re-encode to %x, not the input %x", out, input)
					}
				case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, wire.ErrFrameTooLarge), errors.Is(err, wire.ErrUnknownType):
				default:
					t.Fatalf("Decode: undocumented error %v", err)
				}
				return
			}
			if len(fr.Payload) > max || !fr.Type.Valid() {
				t.Fatalf("Decode returned %v", &fr)
			}
			out = wire.AppendFrame(out, &fr)
			if !bytes.HasPrefix(input, out) {
				t.Fatalf("decoded frame %v does not re-encode to its input bytes", &fr)
			}
		}
	})
}

// FuzzParseHello: ParseHello never panics, and what it accepts encodes
// back to the same bytes, except for the reserved field, which it
// ignores.
func FuzzParseHello(f *testing.F) {
	f.Add(wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 256 << 10, Name: "guestrpc-agent"}))
	f.Add(wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload}))
	f.Add(wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload, Token: []byte("secret"), Name: "h"}))
	f.Add(helloBytes("GSRP", 1, wire.LimitMaxPayload+1, 256<<10, 0, ""))
	f.Add(helloBytes("GSRP", 1, wire.DefaultMaxPayload, 256<<10, 0, strings.Repeat("€", 90)))
	f.Add([]byte("GSRP"))
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := wire.ParseHello(p)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("ParseHello: %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc := wire.AppendHello(nil, h)
		want := append([]byte(nil), p...)
		want[6], want[7] = 0, 0 // reserved
		if !bytes.Equal(enc, want) {
			t.Fatalf("AppendHello(ParseHello(%x)) = %x", p, enc)
		}
	})
}

// FuzzParseOpen: ParseOpen never panics, its slices stay within the
// payload, and what it accepts encodes back to the same bytes.
func FuzzParseOpen(f *testing.F) {
	f.Add(wire.AppendOpen(nil, 0, "sys.ping", nil))
	f.Add(wire.AppendOpen(nil, 30*time.Second, "process.start", []byte(`{"argv":["ls","-l"]}`)))
	f.Add(wire.AppendOpen(nil, 0, strings.Repeat("m", 256), []byte("{}")))
	f.Add(openBytes(0, 0, "x"))
	f.Add(openBytes(0, 300, "x"))
	f.Add(openBytes(1<<63, 1, "x"))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, p []byte) {
		o, err := wire.ParseOpen(p)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("ParseOpen: %v does not wrap ErrMalformed", err)
			}
			return
		}
		if o.Timeout < 0 || len(o.Method) == 0 || len(o.Method) > 256 {
			t.Fatalf("ParseOpen accepted timeout %v, method of %d bytes", o.Timeout, len(o.Method))
		}
		if enc := wire.AppendOpen(nil, o.Timeout, string(o.Method), o.Args); !bytes.Equal(enc, p) {
			t.Fatalf("AppendOpen(ParseOpen(%x)) = %x", p, enc)
		}
	})
}

// FuzzParseStatus: ParseStatus never panics, and what it accepts
// encodes back to the same bytes.
func FuzzParseStatus(f *testing.F) {
	f.Add(wire.AppendStatus(nil, 0, "", nil))
	f.Add(wire.AppendStatus(nil, 0, "", []byte(`{"ok":true}`)))
	f.Add(wire.AppendStatus(nil, 5, "no such file", nil))
	f.Add(statusBytes(2, 4097, strings.Repeat("e", 4097)))
	f.Add(statusBytes(2, 10, "short"))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		st, err := wire.ParseStatus(p)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("ParseStatus: %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(st.Message) > 4096 {
			t.Fatalf("ParseStatus accepted a %d-byte message", len(st.Message))
		}
		if enc := wire.AppendStatus(nil, st.Code, string(st.Message), st.Result); !bytes.Equal(enc, p) {
			t.Fatalf("AppendStatus(ParseStatus(%x)) = %x", p, enc)
		}
	})
}

// FuzzDecodeAlloc is FuzzDecode for a decoder that reads large DATA
// payloads into buffers from SetPayloadAlloc: the frames are the same,
// a payload from alloc is never overwritten by later frames, and an
// allocation is never asked for more than the cap.
func FuzzDecodeAlloc(f *testing.F) {
	data := func(n int, fill byte) []byte {
		return wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: bytes.Repeat([]byte{fill}, n)})
	}
	f.Add(data(wire.DirectMin, 'a'))
	f.Add(cat(data(wire.DirectMin+1, 'a'), data(10, 'b'), data(2*wire.DirectMin, 'c')))
	f.Add(cat(data(wire.DirectMin, 'a'), wire.AppendFrame(nil, &wire.Frame{StreamID: 3, Type: wire.TypeStatus, Payload: make([]byte, 5000)})))
	f.Add(data(3*wire.DirectMin, 'x')[:2*wire.DirectMin])
	// A length just over twice the cap makes the read buffer tiny, so the
	// STATUS is assembled in the decoder's own payload buffer after a DATA
	// payload went to alloc's.
	status := wire.AppendFrame(nil, &wire.Frame{StreamID: 3, Type: wire.TypeStatus, Payload: make([]byte, 5000)})
	head := cat(data(wire.DirectMin+1, 'a'), status)
	pad := 2*(16<<10) + 20 - len(head) - wire.HeaderSize
	f.Add(cat(head, hdr(uint32(pad), 1, 3, 0), make([]byte, pad)))
	const max = 16 << 10
	f.Fuzz(func(t *testing.T, input []byte) {
		dec := wire.NewDecoderSize(iotest.HalfReader(bytes.NewReader(input)), max, wire.HeaderSize+len(input)%(2*max))
		type kept struct{ got, want []byte }
		var owned []kept
		var last []byte
		dec.SetPayloadAlloc(func(n int) []byte {
			if n > max {
				t.Fatalf("alloc asked for %d bytes, over the cap %d", n, max)
			}
			if n%3 == 0 {
				return nil // declining must work too
			}
			last = make([]byte, n)
			return last
		})
		var out []byte
		for {
			var fr wire.Frame
			err := dec.Decode(&fr)
			if err != nil {
				switch {
				case err == io.EOF:
					if !bytes.Equal(out, input) {
						t.Fatalf("clean EOF, but the frames re-encode to %x, not the input %x", out, input)
					}
				case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, wire.ErrFrameTooLarge), errors.Is(err, wire.ErrUnknownType):
				default:
					t.Fatalf("Decode: undocumented error %v", err)
				}
				for _, k := range owned {
					if !bytes.Equal(k.got, k.want) {
						t.Fatal("a payload handed over from alloc changed after a later Decode")
					}
				}
				return
			}
			if len(fr.Payload) > max || !fr.Type.Valid() {
				t.Fatalf("Decode returned %v", &fr)
			}
			if last != nil && len(fr.Payload) > 0 && &fr.Payload[0] == &last[0] {
				owned = append(owned, kept{fr.Payload, bytes.Clone(fr.Payload)})
				last = nil
			}
			out = wire.AppendFrame(out, &fr)
			if !bytes.HasPrefix(input, out) {
				t.Fatalf("decoded frame %v does not re-encode to its input bytes", &fr)
			}
		}
	})
}
