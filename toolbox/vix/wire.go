package vix

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// Header constants (vixCommands.h).
const (
	magic          = 0xd00d0001
	messageVersion = 5
	// HeaderLen is the packed size of a request header.
	HeaderLen = 51
	// MaxRequest is the largest totalMessageLength a request may claim
	// (VIX_COMMAND_MAX_REQUEST_SIZE).
	MaxRequest = 65536
	// MaxReply caps the whole reply, as OVT's 64 KiB TCLO buffer does.
	MaxReply = 65536
	// maxResult is what OVT leaves for a result: the buffer less room
	// for "<err> <errno> " (foundryToolsDaemon.c vixPrefixDataSize).
	maxResult = MaxReply - (20*2 + 2 + 1 + 10)

	flagRequest      = 0x01 // commonFlags: VIX_COMMAND_REQUEST
	flagBinaryResult = 0x80 // commonFlags: VIX_COMMAND_GUEST_RETURNS_BINARY
	flagAuthData     = 0x10 // requestFlags: VIX_REQUESTMSG_INCLUDES_AUTH_DATA_V1
	authDataLen      = 44   // sizeof(VixMsgAuthDataV1)
)

// Header is a VIX request header (VixCommandRequestHeader), packed
// little-endian.
type Header struct {
	Magic            uint32
	Version          uint16
	TotalLength      uint32
	HeaderLength     uint32
	BodyLength       uint32
	CredentialLength uint32
	CommonFlags      uint8
	OpCode           uint32
	RequestFlags     uint32
	Timeout          uint32
	Cookie           uint64
	ClientHandleID   uint32
	CredentialType   uint32
}

func decodeHeader(b []byte) Header {
	le := binary.LittleEndian
	return Header{
		Magic:            le.Uint32(b[0:]),
		Version:          le.Uint16(b[4:]),
		TotalLength:      le.Uint32(b[6:]),
		HeaderLength:     le.Uint32(b[10:]),
		BodyLength:       le.Uint32(b[14:]),
		CredentialLength: le.Uint32(b[18:]),
		CommonFlags:      b[22],
		OpCode:           le.Uint32(b[23:]),
		RequestFlags:     le.Uint32(b[27:]),
		Timeout:          le.Uint32(b[31:]),
		Cookie:           le.Uint64(b[35:]),
		ClientHandleID:   le.Uint32(b[43:]),
		CredentialType:   le.Uint32(b[47:]),
	}
}

// request is a validated request: its header, body and credential,
// each a slice of the message that lies within it.
type request struct {
	Header
	body []byte
	cred []byte
}

// splitArgs finds the message in the TCLO arguments: OVT skips the
// quoted request name and everything else up to the first NUL.
func splitArgs(args []byte) []byte {
	for i, c := range args {
		if c == 0 {
			return args[i+1:]
		}
	}
	return nil
}

// parseRequest validates msg as OVT's VixMsg_ValidateRequestMsg and
// VMAutomationMsgParserInit do, and also that every length lies within
// the bytes received (OVT trusts them). Any failure is BAD_HEADER.
func parseRequest(msg []byte) (request, bool) {
	if len(msg) < HeaderLen {
		return request{}, false
	}
	h := decodeHeader(msg)
	need := uint64(h.HeaderLength) + uint64(h.BodyLength) + uint64(h.CredentialLength)
	if h.RequestFlags&flagAuthData != 0 {
		need += authDataLen
	}
	switch {
	case h.Magic != magic, h.Version != messageVersion,
		h.HeaderLength != HeaderLen,
		uint64(h.TotalLength) != need,
		h.TotalLength > MaxRequest,
		h.CommonFlags&flagRequest == 0,
		uint64(h.TotalLength) > uint64(len(msg)):
		return request{}, false
	}
	bodyEnd := HeaderLen + int(h.BodyLength)
	credEnd := bodyEnd + int(h.CredentialLength)
	return request{Header: h, body: msg[HeaderLen:bodyEnd:bodyEnd], cred: msg[bodyEnd:credEnd:credEnd]}, true
}

// reader takes fixed fields and strings from a body, as OVT's message
// parser does; every take checks the length first.
type reader struct {
	b   []byte
	bad bool // a take ran past the end or a string was malformed
}

func (r *reader) take(n uint64) []byte {
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) i32() int32 { return int32(r.u32()) }

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) i64() int64 { return int64(r.u64()) }

// str takes a string of n bytes and its NUL (GetString: n excludes the
// NUL, exactly one NUL follows, valid UTF-8).
func (r *reader) str(n uint32) string {
	return r.exact(r.take(uint64(n) + 1))
}

// optStr takes an optional string: n includes the NUL, 0 is absent.
func (r *reader) optStr(n uint32) (string, bool) {
	if n == 0 {
		return "", false
	}
	return r.exact(r.take(uint64(n))), true
}

// exact checks b is a UTF-8 string ending in its only NUL.
func (r *reader) exact(b []byte) string {
	if r.bad || len(b) == 0 {
		r.bad = true
		return ""
	}
	s := b[:len(b)-1]
	if b[len(b)-1] != 0 || indexNUL(s) >= 0 || !utf8.Valid(s) {
		r.bad = true
		return ""
	}
	return string(s)
}

// strs takes count NUL-terminated strings filling exactly n bytes
// (GetOptionalStrings).
func (r *reader) strs(count, n uint32) []string {
	if count == 0 {
		return nil
	}
	b := r.take(uint64(n))
	if r.bad {
		return nil
	}
	if uint64(count) > uint64(len(b)) { // each string needs its NUL
		r.bad = true
		return nil
	}
	out := make([]string, 0, count)
	for range count {
		i := indexNUL(b)
		if i < 0 || !utf8.Valid(b[:i]) {
			r.bad = true
			return nil
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	if len(b) != 0 {
		r.bad = true
		return nil
	}
	return out
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// formatReply builds the reply as ToolsDaemonTcloReceiveVixCommand
// does: "<err> <errno> ", then "#" and the binary result when the
// request asked for one, else the result up to its first NUL and a NUL.
func formatReply(code Code, errno int32, result []byte, binary bool) []byte {
	out := make([]byte, 0, 32+len(result))
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(errno), 10)
	out = append(out, ' ')
	if binary {
		out = append(out, '#')
		return append(out, result...)
	}
	if i := indexNUL(result); i >= 0 {
		result = result[:i]
	}
	out = append(out, result...)
	return append(out, 0)
}
