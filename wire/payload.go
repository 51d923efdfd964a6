package wire

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the protocol version this package speaks.
const Version = 1

// HelloMagic opens every HELLO payload so that a peer speaking something
// else is detected on the first frame rather than misparsed later.
const HelloMagic = "GSRP"

const (
	helloFixed    = 20
	maxPeerName   = 256
	openFixed     = 10
	maxMethodLen  = 256
	statusFixed   = 4
	windowSize    = 4
	pingSize      = 8
	maxStatusText = 4096
)

// Hello is the HELLO payload: what a peer accepts.
type Hello struct {
	Version       uint16
	MaxPayload    uint32 // largest payload the sender accepts
	InitialWindow uint32 // per-stream receive window the sender grants
	Capabilities  uint32 // bit set: CapToken; the rest reserved, zero
	Name          string // free-form peer identity, at most 256 bytes
	// Token authenticates the host to an agent whose transport cannot
	// tell who connected (TCP); 1..MaxTokenLen bytes, sent when set.
	// AppendHello sets CapToken for it.
	Token []byte
}

// CapToken is the HELLO capability bit saying a token precedes the name.
const CapToken = 1 << 0

// MaxTokenLen caps a HELLO token.
const MaxTokenLen = 255

// AppendHello appends the encoding of h to b.
func AppendHello(b []byte, h Hello) []byte {
	b = append(b, HelloMagic...)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, h.MaxPayload)
	b = binary.BigEndian.AppendUint32(b, h.InitialWindow)
	caps := h.Capabilities &^ CapToken
	token := h.Token
	if len(token) > MaxTokenLen {
		token = token[:MaxTokenLen]
	}
	if len(token) > 0 {
		caps |= CapToken
	}
	b = binary.BigEndian.AppendUint32(b, caps)
	if len(token) > 0 {
		b = append(b, byte(len(token)))
		b = append(b, token...)
	}
	return append(b, cutUTF8(h.Name, maxPeerName)...)
}

// ParseHello decodes a HELLO payload and checks every field's range.
func ParseHello(p []byte) (Hello, error) {
	if len(p) < helloFixed {
		return Hello{}, fmt.Errorf("%w: HELLO of %d bytes, need at least %d", ErrMalformed, len(p), helloFixed)
	}
	if string(p[0:4]) != HelloMagic {
		return Hello{}, fmt.Errorf("%w: HELLO magic %q, want %q (peer does not speak guestrpc)", ErrMalformed, p[0:4], HelloMagic)
	}
	h := Hello{
		Version:       binary.BigEndian.Uint16(p[4:6]),
		MaxPayload:    binary.BigEndian.Uint32(p[8:12]),
		InitialWindow: binary.BigEndian.Uint32(p[12:16]),
		Capabilities:  binary.BigEndian.Uint32(p[16:20]),
	}
	name := p[helloFixed:]
	if h.Capabilities&CapToken != 0 {
		if len(name) == 0 || name[0] == 0 || int(name[0]) > len(name)-1 {
			return Hello{}, fmt.Errorf("%w: HELLO token length %d with %d bytes left", ErrMalformed, firstByte(name), max(len(name)-1, 0))
		}
		n := int(name[0])
		h.Token = name[1 : 1+n : 1+n]
		name = name[1+n:]
	}
	switch {
	case h.Version == 0:
		return Hello{}, fmt.Errorf("%w: HELLO version 0", ErrMalformed)
	case h.MaxPayload < MinMaxPayload || h.MaxPayload > LimitMaxPayload:
		return Hello{}, fmt.Errorf("%w: HELLO max payload %d outside [%d, %d]", ErrMalformed, h.MaxPayload, MinMaxPayload, LimitMaxPayload)
	case h.InitialWindow < MinMaxPayload:
		return Hello{}, fmt.Errorf("%w: HELLO initial window %d below %d", ErrMalformed, h.InitialWindow, MinMaxPayload)
	case len(name) > maxPeerName || !utf8.Valid(name):
		return Hello{}, fmt.Errorf("%w: HELLO peer name is not UTF-8 of at most %d bytes", ErrMalformed, maxPeerName)
	}
	h.Name = string(name)
	return h, nil
}

func firstByte(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	return int(p[0])
}

// Open is the OPEN payload. Method and Args alias the decoded payload.
type Open struct {
	// Timeout is relative, not a deadline: guest clocks are often wrong,
	// so the agent starts the clock when the OPEN arrives. Zero means none.
	Timeout time.Duration
	Method  []byte
	Args    []byte // JSON, may be empty
}

// AppendOpen appends the encoding of an OPEN payload to b.
func AppendOpen(b []byte, timeout time.Duration, method string, args []byte) []byte {
	if timeout < 0 {
		timeout = 1 // already expired; keep it non-zero so it is not "none"
	}
	b = binary.BigEndian.AppendUint64(b, uint64(timeout))
	b = binary.BigEndian.AppendUint16(b, uint16(len(method)))
	b = append(b, method...)
	return append(b, args...)
}

// ParseOpen decodes an OPEN payload.
func ParseOpen(p []byte) (Open, error) {
	if len(p) < openFixed {
		return Open{}, fmt.Errorf("%w: OPEN of %d bytes, need at least %d", ErrMalformed, len(p), openFixed)
	}
	t := binary.BigEndian.Uint64(p[0:8])
	n := int(binary.BigEndian.Uint16(p[8:10]))
	switch {
	case t > uint64(1<<63-1):
		return Open{}, fmt.Errorf("%w: OPEN timeout %d overflows", ErrMalformed, t)
	case n == 0 || n > maxMethodLen:
		return Open{}, fmt.Errorf("%w: OPEN method length %d outside [1, %d]", ErrMalformed, n, maxMethodLen)
	case len(p)-openFixed < n:
		return Open{}, fmt.Errorf("%w: OPEN method length %d exceeds the %d bytes left", ErrMalformed, n, len(p)-openFixed)
	}
	return Open{Timeout: time.Duration(t), Method: p[openFixed : openFixed+n], Args: p[openFixed+n:]}, nil
}

// Status is the STATUS payload. Message and Result alias the payload.
type Status struct {
	Code    uint16
	Message []byte
	Result  []byte // JSON, may be empty
}

// AppendStatus appends the encoding of a STATUS payload to b. Messages
// longer than 4 KiB are cut at a character boundary.
func AppendStatus(b []byte, code uint16, message string, result []byte) []byte {
	message = cutUTF8(message, maxStatusText)
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(message)))
	b = append(b, message...)
	return append(b, result...)
}

// cutUTF8 returns s cut to at most n bytes, at a character boundary, so
// that a cut name or message is still valid UTF-8.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:n]
}

// ParseStatus decodes a STATUS payload.
func ParseStatus(p []byte) (Status, error) {
	if len(p) < statusFixed {
		return Status{}, fmt.Errorf("%w: STATUS of %d bytes, need at least %d", ErrMalformed, len(p), statusFixed)
	}
	n := int(binary.BigEndian.Uint16(p[2:4]))
	if n > maxStatusText || len(p)-statusFixed < n {
		return Status{}, fmt.Errorf("%w: STATUS message length %d (cap %d, %d bytes left)", ErrMalformed, n, maxStatusText, len(p)-statusFixed)
	}
	return Status{Code: binary.BigEndian.Uint16(p[0:2]), Message: p[statusFixed : statusFixed+n], Result: p[statusFixed+n:]}, nil
}

// AppendWindow appends a WINDOW payload granting n more bytes.
func AppendWindow(b []byte, n uint32) []byte { return binary.BigEndian.AppendUint32(b, n) }

// ParseWindow decodes a WINDOW payload; a zero increment is malformed.
func ParseWindow(p []byte) (uint32, error) {
	if len(p) != windowSize {
		return 0, fmt.Errorf("%w: WINDOW of %d bytes, want %d", ErrMalformed, len(p), windowSize)
	}
	n := binary.BigEndian.Uint32(p)
	if n == 0 {
		return 0, fmt.Errorf("%w: WINDOW increment 0", ErrMalformed)
	}
	return n, nil
}

// ParsePing checks a PING or PONG payload (8 opaque bytes) and returns it.
func ParsePing(p []byte) (uint64, error) {
	if len(p) != pingSize {
		return 0, fmt.Errorf("%w: PING/PONG of %d bytes, want %d", ErrMalformed, len(p), pingSize)
	}
	return binary.BigEndian.Uint64(p), nil
}

// AppendPing appends a PING or PONG payload.
func AppendPing(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
