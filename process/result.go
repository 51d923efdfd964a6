package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// maxResultJSON caps the Result a client decodes: the agent's is about
// 140 bytes, and no valid one comes near this.
const maxResultJSON = 4 << 10

// decodeResult decodes the JSON of a Result. The object the agent sends
// (flat, ASCII, no escapes) is read by a small scanner of its own; any
// other input goes to encoding/json, which decodes it or says what is
// wrong. On a client an exec's Result is decoded once per process, cold,
// and encoding/json's general path took about 2% of a short exec's time.
func decodeResult(b []byte, r *Result) error {
	if len(b) > maxResultJSON {
		return fmt.Errorf("process: result of %d bytes exceeds %d", len(b), maxResultJSON)
	}
	fast := *r // as encoding/json does, keys not in b leave r's fields alone
	if scanResult(b, &fast) {
		*r = fast
		return nil
	}
	if err := json.Unmarshal(b, r); err != nil {
		return fmt.Errorf("process: decoding the result: %w", err)
	}
	return nil
}

// resultScanner reads the flat JSON object decodeResult takes, and
// reports false at anything it does not know, leaving it to
// encoding/json.
type resultScanner struct {
	b   []byte
	pos int
}

// scanResult decodes b into r if b is an object whose keys are Result's
// own (in any order) and whose values are plain: integers, strings of
// printable ASCII without escapes, true or false.
func scanResult(b []byte, r *Result) bool {
	s := resultScanner{b: b}
	if !s.take('{') {
		return false
	}
	if s.take('}') {
		return s.end()
	}
	for {
		key, ok := s.str()
		if !ok || !s.take(':') || !s.field(string(key), r) {
			return false
		}
		if s.take('}') {
			return s.end()
		}
		if !s.take(',') {
			return false
		}
	}
}

// field reads the value of key into r.
func (s *resultScanner) field(key string, r *Result) bool {
	var err error
	switch key {
	case "id":
		var v []byte
		if v = s.digits(false); v == nil {
			return false
		}
		r.ID, err = strconv.ParseUint(string(v), 10, 64)
	case "pid", "exit_code":
		var v []byte
		if v = s.digits(true); v == nil {
			return false
		}
		var n int64
		n, err = strconv.ParseInt(string(v), 10, strconv.IntSize)
		if key == "pid" {
			r.PID = int(n)
		} else {
			r.ExitCode = int(n)
		}
	case "signal":
		v, ok := s.str()
		if !ok {
			return false
		}
		r.Signal = string(v)
	case "timed_out":
		switch {
		case s.word("true"):
			r.TimedOut = true
		case s.word("false"):
			r.TimedOut = false
		default:
			return false
		}
	case "started", "ended":
		v, ok := s.str()
		if !ok {
			return false
		}
		t := &r.Started
		if key == "ended" {
			t = &r.Ended
		}
		err = t.UnmarshalText(v)
	default:
		return false
	}
	return err == nil
}

func (s *resultScanner) space() {
	for s.pos < len(s.b) && (s.b[s.pos] == ' ' || s.b[s.pos] == '\t' || s.b[s.pos] == '\n' || s.b[s.pos] == '\r') {
		s.pos++
	}
}

// take consumes c, after white space, if it comes next.
func (s *resultScanner) take(c byte) bool {
	s.space()
	if s.pos < len(s.b) && s.b[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (s *resultScanner) end() bool {
	s.space()
	return s.pos == len(s.b)
}

// word consumes the literal w.
func (s *resultScanner) word(w string) bool {
	s.space()
	if bytes.HasPrefix(s.b[s.pos:], []byte(w)) {
		s.pos += len(w)
		return true
	}
	return false
}

// str reads a string of printable ASCII with no escapes.
func (s *resultScanner) str() ([]byte, bool) {
	if !s.take('"') {
		return nil, false
	}
	start := s.pos
	for ; s.pos < len(s.b); s.pos++ {
		switch c := s.b[s.pos]; {
		case c == '"':
			s.pos++
			return s.b[start : s.pos-1], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

// digits reads an integer as JSON writes one: an optional minus sign
// (when signed), then 0 or digits without a leading zero. A fraction or
// exponent that follows is left unread, so the caller then fails.
func (s *resultScanner) digits(signed bool) []byte {
	s.space()
	start := s.pos
	if signed && s.pos < len(s.b) && s.b[s.pos] == '-' {
		s.pos++
	}
	first := s.pos
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		s.pos++
	}
	if s.pos == first || (s.b[first] == '0' && s.pos-first > 1) {
		return nil
	}
	return s.b[start:s.pos]
}
