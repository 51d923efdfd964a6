package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/wire"
)

// helloBytes builds a HELLO payload field by field, so tests can break
// any one of them.
func helloBytes(magic string, version uint16, maxPayload, window, caps uint32, name string) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, maxPayload)
	b = binary.BigEndian.AppendUint32(b, window)
	b = binary.BigEndian.AppendUint32(b, caps)
	return append(b, name...)
}

func TestHello(t *testing.T) {
	good := helloBytes("GSRP", 1, wire.DefaultMaxPayload, 256<<10, 0, "agent")
	tests := []struct {
		name    string
		input   []byte
		want    wire.Hello
		wantErr error
	}{
		{"valid", good, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 256 << 10, Name: "agent"}, nil},
		{"no name", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, 0, ""), wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload}, nil},
		{"largest cap, 256-byte name", helloBytes("GSRP", 2, wire.LimitMaxPayload, math.MaxUint32, 6, strings.Repeat("n", 256)),
			wire.Hello{Version: 2, MaxPayload: wire.LimitMaxPayload, InitialWindow: math.MaxUint32, Capabilities: 6, Name: strings.Repeat("n", 256)}, nil},
		{"token", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, wire.CapToken, "\x03s3cagent"),
			wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload, Capabilities: wire.CapToken, Token: []byte("s3c"), Name: "agent"}, nil},
		{"token, empty name", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, wire.CapToken, "\x01t"),
			wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload, Capabilities: wire.CapToken, Token: []byte("t")}, nil},
		{"token flag, nothing after", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, wire.CapToken, ""), wire.Hello{}, wire.ErrMalformed},
		{"token of length 0", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, wire.CapToken, "\x00agent"), wire.Hello{}, wire.ErrMalformed},
		{"token longer than the payload", helloBytes("GSRP", 1, wire.MinMaxPayload, wire.MinMaxPayload, wire.CapToken, "\x09abc"), wire.Hello{}, wire.ErrMalformed},
		{"nil", nil, wire.Hello{}, wire.ErrMalformed},
		{"short", good[:19], wire.Hello{}, wire.ErrMalformed},
		{"bad magic", helloBytes("GSRQ", 1, wire.DefaultMaxPayload, 256<<10, 0, ""), wire.Hello{}, wire.ErrMalformed},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wire.Hello{}, wire.ErrMalformed},
		{"version 0", helloBytes("GSRP", 0, wire.DefaultMaxPayload, 256<<10, 0, ""), wire.Hello{}, wire.ErrMalformed},
		{"cap below minimum", helloBytes("GSRP", 1, wire.MinMaxPayload-1, 256<<10, 0, ""), wire.Hello{}, wire.ErrMalformed},
		{"cap above limit", helloBytes("GSRP", 1, wire.LimitMaxPayload+1, 256<<10, 0, ""), wire.Hello{}, wire.ErrMalformed},
		{"window below minimum", helloBytes("GSRP", 1, wire.DefaultMaxPayload, wire.MinMaxPayload-1, 0, ""), wire.Hello{}, wire.ErrMalformed},
		{"name too long", helloBytes("GSRP", 1, wire.DefaultMaxPayload, 256<<10, 0, strings.Repeat("n", 257)), wire.Hello{}, wire.ErrMalformed},
		{"name not UTF-8", helloBytes("GSRP", 1, wire.DefaultMaxPayload, 256<<10, 0, "\xff\xfe"), wire.Hello{}, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.ParseHello(tt.input)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseHello: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHello (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if enc := wire.AppendHello(nil, got); !bytes.Equal(enc, tt.input) {
				t.Errorf("AppendHello(ParseHello(x)) = %x, want %x", enc, tt.input)
			}
		})
	}
}

// TestAppendHelloLongName: AppendHello cuts an over-long name, and what
// it produces must still parse, even when the cut falls inside a
// multi-byte character.
func TestAppendHelloLongName(t *testing.T) {
	for _, name := range []string{strings.Repeat("n", 300), strings.Repeat("€", 100), "n" + strings.Repeat("é", 200)} {
		h := wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 256 << 10, Name: name}
		got, err := wire.ParseHello(wire.AppendHello(nil, h))
		if err != nil {
			t.Errorf("name of %d bytes: ParseHello(AppendHello): %v", len(name), err)
			continue
		}
		if len(got.Name) > 256 || !strings.HasPrefix(name, got.Name) || len(got.Name) < 256-utf8.UTFMax {
			t.Errorf("name of %d bytes came back as %d bytes %q", len(name), len(got.Name), got.Name)
		}
	}
}

func openBytes(timeout uint64, mlen uint16, rest string) []byte {
	b := binary.BigEndian.AppendUint64(nil, timeout)
	b = binary.BigEndian.AppendUint16(b, mlen)
	return append(b, rest...)
}

type parsedOpen struct {
	Timeout time.Duration
	Method  string
	Args    string
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		want    parsedOpen
		wantErr error
	}{
		{"no timeout, no args", openBytes(0, 8, "sys.ping"), parsedOpen{Method: "sys.ping"}, nil},
		{"timeout and args", openBytes(uint64(3*time.Second), 6, `fs.get{"path":"/"}`), parsedOpen{3 * time.Second, "fs.get", `{"path":"/"}`}, nil},
		{"largest timeout", openBytes(math.MaxInt64, 1, "m"), parsedOpen{math.MaxInt64, "m", ""}, nil},
		{"256-byte method", openBytes(0, 256, strings.Repeat("m", 256)+"[]"), parsedOpen{0, strings.Repeat("m", 256), "[]"}, nil},
		{"nil", nil, parsedOpen{}, wire.ErrMalformed},
		{"short", openBytes(0, 1, "")[:9], parsedOpen{}, wire.ErrMalformed},
		{"method length 0", openBytes(0, 0, "{}"), parsedOpen{}, wire.ErrMalformed},
		{"method length 257", openBytes(0, 257, strings.Repeat("m", 257)), parsedOpen{}, wire.ErrMalformed},
		{"method length 65535", openBytes(0, 65535, "m"), parsedOpen{}, wire.ErrMalformed},
		{"method truncated", openBytes(0, 8, "sys.pin"), parsedOpen{}, wire.ErrMalformed},
		{"timeout overflows int64", openBytes(1<<63, 1, "m"), parsedOpen{}, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := wire.ParseOpen(tt.input)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseOpen: %v, want %v", err, tt.wantErr)
			}
			got := parsedOpen{o.Timeout, string(o.Method), string(o.Args)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOpen (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if enc := wire.AppendOpen(nil, o.Timeout, string(o.Method), o.Args); !bytes.Equal(enc, tt.input) {
				t.Errorf("AppendOpen(ParseOpen(x)) = %x, want %x", enc, tt.input)
			}
		})
	}
}

func TestAppendOpenNegativeTimeout(t *testing.T) {
	// An already expired deadline must not turn into "no timeout".
	o, err := wire.ParseOpen(wire.AppendOpen(nil, -time.Second, "m", nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout <= 0 {
		t.Errorf("timeout %v after encoding a negative one, want > 0", o.Timeout)
	}
}

func statusBytes(code, mlen uint16, rest string) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, mlen)
	return append(b, rest...)
}

type parsedStatus struct {
	Code    uint16
	Message string
	Result  string
}

func TestStatus(t *testing.T) {
	long := strings.Repeat("e", 4096)
	tests := []struct {
		name    string
		input   []byte
		want    parsedStatus
		wantErr error
	}{
		{"ok, no result", statusBytes(0, 0, ""), parsedStatus{}, nil},
		{"ok with result", statusBytes(0, 0, `{"a":1}`), parsedStatus{Result: `{"a":1}`}, nil},
		{"error", statusBytes(5, 9, "not found"), parsedStatus{5, "not found", ""}, nil},
		{"4096-byte message", statusBytes(13, 4096, long), parsedStatus{13, long, ""}, nil},
		{"nil", nil, parsedStatus{}, wire.ErrMalformed},
		{"short", []byte{0, 0, 0}, parsedStatus{}, wire.ErrMalformed},
		{"message too long", statusBytes(2, 4097, long+"e"), parsedStatus{}, wire.ErrMalformed},
		{"message truncated", statusBytes(2, 10, "only 9 b"), parsedStatus{}, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := wire.ParseStatus(tt.input)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseStatus: %v, want %v", err, tt.wantErr)
			}
			got := parsedStatus{st.Code, string(st.Message), string(st.Result)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseStatus (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if enc := wire.AppendStatus(nil, st.Code, string(st.Message), st.Result); !bytes.Equal(enc, tt.input) {
				t.Errorf("AppendStatus(ParseStatus(x)) = %x, want %x", enc, tt.input)
			}
		})
	}
}

// TestAppendStatusLongMessage: AppendStatus cuts messages to 4 KiB, at a
// character boundary, and the result parses.
func TestAppendStatusLongMessage(t *testing.T) {
	for _, msg := range []string{strings.Repeat("e", 5000), strings.Repeat("€", 2000)} {
		st, err := wire.ParseStatus(wire.AppendStatus(nil, 2, msg, nil))
		if err != nil {
			t.Errorf("message of %d bytes: %v", len(msg), err)
			continue
		}
		if len(st.Message) > 4096 || len(st.Message) < 4096-utf8.UTFMax || !strings.HasPrefix(msg, string(st.Message)) || !utf8.Valid(st.Message) {
			t.Errorf("message of %d bytes came back as %d bytes, valid UTF-8 %v", len(msg), len(st.Message), utf8.Valid(st.Message))
		}
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		want    uint32
		wantErr error
	}{
		{"one", []byte{0, 0, 0, 1}, 1, nil},
		{"max", []byte{0xff, 0xff, 0xff, 0xff}, math.MaxUint32, nil},
		{"zero", []byte{0, 0, 0, 0}, 0, wire.ErrMalformed},
		{"short", []byte{0, 0, 1}, 0, wire.ErrMalformed},
		{"long", []byte{0, 0, 0, 1, 0}, 0, wire.ErrMalformed},
		{"empty", nil, 0, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.ParseWindow(tt.input)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ParseWindow(%x) = %d, %v; want %d, %v", tt.input, got, err, tt.want, tt.wantErr)
			}
			if err == nil && !bytes.Equal(wire.AppendWindow(nil, got), tt.input) {
				t.Errorf("AppendWindow(%d) does not give back %x", got, tt.input)
			}
		})
	}
}

func TestPing(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		want    uint64
		wantErr error
	}{
		{"zero", make([]byte, 8), 0, nil},
		{"value", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0x0102030405060708, nil},
		{"7 bytes", make([]byte, 7), 0, wire.ErrMalformed},
		{"9 bytes", make([]byte, 9), 0, wire.ErrMalformed},
		{"empty", nil, 0, wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.ParsePing(tt.input)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ParsePing(%x) = %#x, %v; want %#x, %v", tt.input, got, err, tt.want, tt.wantErr)
			}
			if err == nil && !bytes.Equal(wire.AppendPing(nil, got), tt.input) {
				t.Errorf("AppendPing(%#x) does not give back %x", got, tt.input)
			}
		})
	}
}
