package wire_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hdr builds a raw frame header.
func hdr(n uint32, stream uint32, t byte, flags byte) []byte {
	return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream), t, flags}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// frameCmp compares payloads with bytes.Equal: it treats a nil and an
// empty payload alike (the wire cannot tell them apart) and is fast on
// large payloads, which cmp's element-wise default is not.
var frameCmp = cmp.Comparer(bytes.Equal)

func TestEncodeDecode(t *testing.T) {
	big := bytes.Repeat([]byte{0xa5}, 70000)
	tests := []struct {
		name  string
		frame wire.Frame
		want  []byte // the exact bytes on the wire
	}{
		{"hello", wire.Frame{Type: wire.TypeHello, Payload: []byte("GSRP")},
			cat(hdr(4, 0, 1, 0), []byte("GSRP"))},
		{"open fin", wire.Frame{StreamID: 1, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: []byte{1, 2, 3}},
			cat(hdr(3, 1, 2, 1), []byte{1, 2, 3})},
		{"empty data", wire.Frame{StreamID: 3, Type: wire.TypeData},
			hdr(0, 3, 3, 0)},
		{"data lane 15", wire.Frame{StreamID: 0xfffffffe, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(15), Payload: []byte("x")},
			cat(hdr(1, 0xfffffffe, 3, 0xf0), []byte("x"))},
		{"close", wire.Frame{StreamID: 5, Type: wire.TypeClose}, hdr(0, 5, 4, 0)},
		{"status", wire.Frame{StreamID: 7, Type: wire.TypeStatus, Payload: []byte{0, 0, 0, 0}}, cat(hdr(4, 7, 5, 0), []byte{0, 0, 0, 0})},
		{"cancel", wire.Frame{StreamID: 9, Type: wire.TypeCancel}, hdr(0, 9, 6, 0)},
		{"window", wire.Frame{StreamID: 9, Type: wire.TypeWindow, Payload: []byte{0, 1, 0, 0}}, cat(hdr(4, 9, 7, 0), []byte{0, 1, 0, 0})},
		{"ping", wire.Frame{Type: wire.TypePing, Payload: []byte("12345678")}, cat(hdr(8, 0, 8, 0), []byte("12345678"))},
		{"pong", wire.Frame{Type: wire.TypePong, Payload: []byte("12345678")}, cat(hdr(8, 0, 9, 0), []byte("12345678"))},
		{"70000-byte data", wire.Frame{StreamID: 11, Type: wire.TypeData, Payload: big}, cat(hdr(70000, 11, 3, 0), big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := &countingWriter{w: &buf}
			if err := wire.NewEncoder(w).Encode(&tt.frame); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if w.writes != 1 {
				t.Errorf("Encode made %d Write calls, want 1", w.writes)
			}
			if diff := cmp.Diff(tt.want, buf.Bytes(), frameCmp); diff != "" {
				t.Errorf("encoding (-want +got):\n%s", diff)
			}
			if got := wire.AppendFrame(nil, &tt.frame); !bytes.Equal(got, tt.want) {
				t.Errorf("AppendFrame differs from Encode")
			}
			var got wire.Frame
			dec := wire.NewDecoder(&buf, 0)
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.frame, got, frameCmp); diff != "" {
				t.Errorf("decoded frame (-want +got):\n%s", diff)
			}
			if err := dec.Decode(&got); err != io.EOF {
				t.Errorf("Decode at end of stream: %v, want io.EOF", err)
			}
		})
	}
}

type countingWriter struct {
	w      io.Writer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.w.Write(p)
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		frame   wire.Frame
		wantErr error
	}{
		{"payload over the limit", wire.Frame{Type: wire.TypeData, StreamID: 1, Payload: make([]byte, wire.LimitMaxPayload+1)}, wire.ErrFrameTooLarge},
		{"type 0", wire.Frame{Type: 0}, wire.ErrUnknownType},
		{"type 10", wire.Frame{Type: 10}, wire.ErrUnknownType},
		{"type 255", wire.Frame{Type: 255, Payload: []byte("x")}, wire.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := wire.NewEncoder(&buf).Encode(&tt.frame)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Encode: %v, want %v", err, tt.wantErr)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes on error", buf.Len())
			}
		})
	}
	// The limit itself is allowed.
	if err := wire.NewEncoder(io.Discard).Encode(&wire.Frame{Type: wire.TypeData, Payload: make([]byte, wire.LimitMaxPayload)}); err != nil {
		t.Errorf("Encode of a LimitMaxPayload frame: %v", err)
	}
}

func TestEncoderWriteError(t *testing.T) {
	want := errors.New("disk on fire")
	w := writerFunc(func([]byte) (int, error) { return 0, want })
	if err := wire.NewEncoder(w).Encode(&wire.Frame{Type: wire.TypeClose, StreamID: 1}); !errors.Is(err, want) {
		t.Errorf("Encode: %v, want the writer's error", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		max     uint32
		wantErr error
	}{
		{"empty stream", nil, 0, io.EOF},
		{"truncated header", hdr(4, 1, 3, 0)[:5], 0, io.ErrUnexpectedEOF},
		{"header missing its last byte", hdr(4, 1, 3, 0)[:9], 0, io.ErrUnexpectedEOF},
		{"truncated payload", cat(hdr(4, 1, 3, 0), []byte{1, 2}), 0, io.ErrUnexpectedEOF},
		{"missing payload", hdr(4, 1, 3, 0), 0, io.ErrUnexpectedEOF},
		{"over the default cap", hdr(wire.DefaultMaxPayload+1, 1, 3, 0), 0, wire.ErrFrameTooLarge},
		{"over a set cap", cat(hdr(17, 1, 3, 0), make([]byte, 17)), 16, wire.ErrFrameTooLarge},
		{"length 0xffffffff", hdr(0xffffffff, 1, 3, 0), 0, wire.ErrFrameTooLarge},
		{"type 0", hdr(0, 0, 0, 0), 0, wire.ErrUnknownType},
		{"type 10", hdr(0, 1, 10, 0), 0, wire.ErrUnknownType},
		{"type 255 with a huge length", hdr(0xffffffff, 1, 255, 0), 0, wire.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f wire.Frame
			err := wire.NewDecoder(bytes.NewReader(tt.input), tt.max).Decode(&f)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode: %v, want %v", err, tt.wantErr)
			}
		})
	}
	// At the cap exactly is fine.
	var f wire.Frame
	if err := wire.NewDecoder(bytes.NewReader(cat(hdr(16, 1, 3, 0), make([]byte, 16))), 16).Decode(&f); err != nil {
		t.Errorf("Decode of a frame at the cap: %v", err)
	}
}

// TestDecodeChecksLengthBeforeAllocating feeds a header announcing a
// 16 MiB payload to a decoder capped at 1 MiB. The decoder must refuse it
// without reserving the 16 MiB.
func TestDecodeChecksLengthBeforeAllocating(t *testing.T) {
	input := hdr(wire.LimitMaxPayload, 1, 3, 0)
	dec := wire.NewDecoder(bytes.NewReader(input), wire.DefaultMaxPayload)
	var f wire.Frame
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := dec.Decode(&f)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("Decode: %v, want ErrFrameTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n >= wire.DefaultMaxPayload {
		t.Errorf("Decode allocated %d bytes before refusing an oversized frame", n)
	}
}

func TestDecoderSetMaxPayload(t *testing.T) {
	input := cat(hdr(20, 1, 3, 0), make([]byte, 20), hdr(20, 1, 3, 0), make([]byte, 20))
	dec := wire.NewDecoder(bytes.NewReader(input), 0)
	if got := dec.MaxPayload(); got != wire.DefaultMaxPayload {
		t.Errorf("MaxPayload() = %d, want the default %d", got, wire.DefaultMaxPayload)
	}
	var f wire.Frame
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	dec.SetMaxPayload(19)
	if err := dec.Decode(&f); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("Decode after SetMaxPayload(19): %v, want ErrFrameTooLarge", err)
	}
}

func TestDecoderReset(t *testing.T) {
	dec := wire.NewDecoder(bytes.NewReader(hdr(4, 1, 3, 0)[:3]), 0)
	var f wire.Frame
	if err := dec.Decode(&f); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Decode of a cut header: %v", err)
	}
	dec.Reset(bytes.NewReader(cat(hdr(2, 5, 3, 0x10), []byte("hi"))))
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("Decode after Reset: %v", err)
	}
	want := wire.Frame{StreamID: 5, Type: wire.TypeData, Flags: 0x10, Payload: []byte("hi")}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("frame after Reset (-want +got):\n%s", diff)
	}
}

// TestDecodeOneByteReads checks framing when the transport hands over a
// byte at a time.
func TestDecodeOneByteReads(t *testing.T) {
	frames := []wire.Frame{
		{StreamID: 1, Type: wire.TypeOpen, Payload: []byte("open")},
		{StreamID: 1, Type: wire.TypeData, Payload: bytes.Repeat([]byte("d"), 5000)},
		{StreamID: 1, Type: wire.TypeClose},
	}
	var raw []byte
	for i := range frames {
		raw = wire.AppendFrame(raw, &frames[i])
	}
	dec := wire.NewDecoder(iotest.OneByteReader(bytes.NewReader(raw)), 0)
	for i := range frames {
		var f wire.Frame
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if diff := cmp.Diff(frames[i], f, frameCmp); diff != "" {
			t.Errorf("frame %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestFlagsLane(t *testing.T) {
	for lane := uint8(0); lane <= wire.MaxLane; lane++ {
		f := wire.FlagFin.WithLane(lane)
		if f.Lane() != lane || f&wire.FlagFin == 0 {
			t.Errorf("FlagFin.WithLane(%d) = %#x: lane %d, fin %v", lane, uint8(f), f.Lane(), f&wire.FlagFin != 0)
		}
		if g := f.WithLane(0); g != wire.FlagFin {
			t.Errorf("clearing lane of %#x gave %#x", uint8(f), uint8(g))
		}
	}
}

func TestTypeString(t *testing.T) {
	got := []string{}
	for ty := wire.Type(0); ty <= 10; ty++ {
		got = append(got, ty.String())
	}
	want := []string{"Type(0)", "HELLO", "OPEN", "DATA", "CLOSE", "STATUS", "CANCEL", "WINDOW", "PING", "PONG", "Type(10)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Type.String (-want +got):\n%s", diff)
	}
}

// TestRoundTripRandom encodes random frame sequences and decodes them
// back.
func TestRoundTripRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), byte(seed >> 32), byte(seed >> 40), byte(seed >> 48), byte(seed >> 56)})
	r := rand.New(src)
	for iter := 0; iter < 100; iter++ {
		n := 1 + r.IntN(20)
		frames := make([]wire.Frame, n)
		var buf bytes.Buffer
		enc := wire.NewEncoder(&buf)
		for i := range frames {
			size := r.IntN(64)
			if r.IntN(10) == 0 {
				size = r.IntN(200 << 10)
			}
			p := make([]byte, size)
			_, _ = src.Read(p)
			frames[i] = wire.Frame{
				StreamID: r.Uint32(),
				Type:     wire.Type(1 + r.IntN(9)),
				Flags:    wire.Flags(r.Uint32()),
				Payload:  p,
			}
			if err := enc.Encode(&frames[i]); err != nil {
				t.Fatalf("seed %d: Encode(%v): %v", seed, &frames[i], err)
			}
		}
		// Any read buffer size, reads of any length, and deadlines that
		// interrupt anywhere decode the same frames.
		bufSizes := []int{wire.HeaderSize, 16, 50, 300, 4096, 64 << 10}
		bufSize := bufSizes[r.IntN(len(bufSizes))]
		dec := wire.NewDecoderSize(&choppyReader{r: &buf, rnd: r}, 256<<10, bufSize)
		for i := range frames {
			var f wire.Frame
			err := dec.Decode(&f)
			for errors.Is(err, errStall) {
				err = dec.Decode(&f)
			}
			if err != nil {
				t.Fatalf("seed %d: Decode frame %d (read buffer %d): %v", seed, i, bufSize, err)
			}
			if diff := cmp.Diff(frames[i], f, frameCmp); diff != "" {
				t.Fatalf("seed %d: frame %d (-want +got):\n%s", seed, i, diff)
			}
		}
		var f wire.Frame
		err := dec.Decode(&f)
		for errors.Is(err, errStall) {
			err = dec.Decode(&f)
		}
		if err != io.EOF {
			t.Fatalf("seed %d: Decode past the end: %v, want io.EOF", seed, err)
		}
	}
}

// choppyReader returns reads of random length and now and then fails
// with errStall without reading, as a socket with a deadline may.
type choppyReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *choppyReader) Read(p []byte) (int, error) {
	switch c.rnd.IntN(10) {
	case 0:
		return 0, errStall
	case 1, 2, 3:
		p = p[:min(len(p), 1+c.rnd.IntN(100))]
	}
	return c.r.Read(p)
}

// TestEncoderDoesNotAllocate: once its buffer has grown, the Encoder's
// hot path makes no allocation per frame.
func TestEncoderDoesNotAllocate(t *testing.T) {
	enc := wire.NewEncoder(io.Discard)
	frames := []*wire.Frame{
		{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, 32<<10)},
		{StreamID: 1, Type: wire.TypeWindow, Payload: []byte{0, 0, 1, 0}},
		{StreamID: 3, Type: wire.TypeStatus, Payload: make([]byte, 100)},
	}
	for _, f := range frames {
		if err := enc.Encode(f); err != nil { // warm up: grow the buffer
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, f := range frames {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Encode allocated %.1f times per run of %d frames, want 0", allocs, len(frames))
	}
}

// loopReader replays the same bytes forever.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

// TestDecoderReusesBuffer: steady decoding does not allocate per frame.
func TestDecoderReusesBuffer(t *testing.T) {
	var raw []byte
	raw = wire.AppendFrame(raw, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, 8000)})
	raw = wire.AppendFrame(raw, &wire.Frame{StreamID: 1, Type: wire.TypeWindow, Payload: []byte{0, 0, 1, 0}})
	dec := wire.NewDecoder(&loopReader{b: raw}, 0)
	var f wire.Frame
	for range 2 {
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocated %.1f times per frame, want 0", allocs)
	}
}

// stallingReader hands out its data a piece at a time and fails after
// each piece, as a socket with a read deadline does when the rest of a
// frame has not arrived yet.
type stallingReader struct {
	pieces [][]byte
	failed bool
}

var errStall = errors.New("i/o timeout")

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.failed || len(r.pieces) == 0 {
		r.failed = false
		if len(r.pieces) == 0 {
			return 0, io.EOF
		}
		n := copy(p, r.pieces[0])
		r.pieces[0] = r.pieces[0][n:]
		if len(r.pieces[0]) == 0 {
			r.pieces = r.pieces[1:]
		}
		return n, nil
	}
	r.failed = true
	return 0, errStall
}

// TestDecodeResumes: an error from the reader inside a frame does not
// lose the bytes already read; the next Decode finishes the frame, at any
// split point, and frames after it decode normally.
func TestDecodeResumes(t *testing.T) {
	one := wire.AppendFrame(nil, &wire.Frame{StreamID: 7, Type: wire.TypeData, Flags: wire.FlagFin, Payload: []byte("payload")})
	two := wire.AppendFrame(nil, &wire.Frame{StreamID: 9, Type: wire.TypeClose})
	stream := cat(one, two)
	for split := 1; split < len(stream); split++ {
		r := &stallingReader{pieces: [][]byte{bytes.Clone(stream[:split]), bytes.Clone(stream[split:])}}
		dec := wire.NewDecoder(r, 0)
		var got []wire.Frame
		stalls := 0
		for len(got) < 2 {
			var f wire.Frame
			err := dec.Decode(&f)
			if errors.Is(err, errStall) {
				if stalls++; stalls > 10 {
					t.Fatalf("split %d: decoder makes no progress", split)
				}
				continue
			}
			if err != nil {
				t.Fatalf("split %d: Decode: %v", split, err)
			}
			f.Payload = bytes.Clone(f.Payload)
			got = append(got, f)
		}
		want := []wire.Frame{
			{StreamID: 7, Type: wire.TypeData, Flags: wire.FlagFin, Payload: []byte("payload")},
			{StreamID: 9, Type: wire.TypeClose},
		}
		if diff := cmp.Diff(want, got, frameCmp); diff != "" {
			t.Fatalf("split %d: frames (-want +got):\n%s", split, diff)
		}
		if dec.InFrame() {
			t.Errorf("split %d: decoder reports a frame in progress after a whole frame", split)
		}
		var f wire.Frame
		if err := dec.Decode(&f); err != io.EOF {
			t.Errorf("split %d: Decode at the end: %v, want io.EOF", split, err)
		}
	}
}
