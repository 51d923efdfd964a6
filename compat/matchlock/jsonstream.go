package matchlock

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// The streaming JSON reader: WriteFile requests and ReadFile replies carry
// a whole file as one base64 JSON string. scanObject reads such an object
// from a frame's payload without holding the string: the members other
// than the streamed one are collected (at most maxSmall bytes) and
// decoded afterwards with encoding/json, and the streamed member's string
// is base64-decoded in chunks into a writer as it arrives. It accepts
// what encoding/json's Unmarshal into a []byte field accepts: standard
// padded base64, with \r and \n ignored and JSON escapes decoded.

const (
	maxSmallDefault = 64 << 10
	maxDepth        = 64
	b64Chunk        = 48 << 10 // a multiple of 4
)

var errSyntax = errors.New("JSON syntax")

type objScanner struct {
	r        *bufio.Reader
	small    []byte
	maxSmall int
}

// scanObject reads one JSON object from r (which must end where the
// object ends, trailing white space aside). When the member named key
// holds a string (or null), open is called with the other members seen
// so far, as a JSON object, and the decoded bytes are written to the
// writer it returns. It returns all the other members as a JSON object,
// and whether key was present.
func scanObject(r io.Reader, key string, maxSmall int, open func(small []byte) (io.Writer, error)) ([]byte, bool, error) {
	s := &objScanner{r: bufio.NewReaderSize(r, 64<<10), small: []byte{'{'}, maxSmall: maxSmall}
	found, err := s.object(key, open)
	if err == nil {
		if c, e := s.skipSpace(); e != io.EOF {
			err = fmt.Errorf("%w: %q after the object", errSyntax, c)
			if e != nil {
				err = e
			}
		}
	}
	var se sinkError
	if errors.As(err, &se) {
		return nil, found, se.err
	}
	if err != nil {
		return nil, found, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return s.closed(), found, nil
}

// sinkError carries a failure of the writer (or of open), which is not
// the payload's fault.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }

func (s *objScanner) closed() []byte {
	if n := len(s.small); s.small[n-1] == ',' {
		return append(s.small[:n-1:n-1], '}')
	}
	return append(s.small[:len(s.small):len(s.small)], '}')
}

func (s *objScanner) object(key string, open func([]byte) (io.Writer, error)) (bool, error) {
	if err := s.expect('{'); err != nil {
		return false, err
	}
	found := false
	for first := true; ; first = false {
		c, err := s.skipSpace()
		if err != nil {
			return found, unexpectedEOF(err)
		}
		if c == '}' && first {
			return found, nil
		}
		if c != '"' {
			return found, fmt.Errorf("%w: %q where a member name belongs", errSyntax, c)
		}
		mark := len(s.small)
		s.small = append(s.small, '"')
		if err := s.str(&s.small); err != nil {
			return found, err
		}
		if err := s.expect(':'); err != nil {
			return found, err
		}
		if string(s.small[mark+1:len(s.small)-1]) == key {
			s.small = s.small[:mark]
			if found {
				return found, fmt.Errorf("%w: member %q twice", errSyntax, key)
			}
			found = true
			if err := s.streamed(open); err != nil {
				return found, err
			}
		} else {
			s.small = append(s.small, ':')
			if err := s.value(&s.small, 0); err != nil {
				return found, err
			}
			s.small = append(s.small, ',')
		}
		if len(s.small) > s.maxSmall {
			return found, fmt.Errorf("members besides %q exceed %d bytes", key, s.maxSmall)
		}
		c, err = s.skipSpace()
		if err != nil {
			return found, unexpectedEOF(err)
		}
		if c == '}' {
			return found, nil
		}
		if c != ',' {
			return found, fmt.Errorf("%w: %q between members", errSyntax, c)
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (s *objScanner) skipSpace() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

func (s *objScanner) expect(want byte) error {
	c, err := s.skipSpace()
	if err != nil {
		return unexpectedEOF(err)
	}
	if c != want {
		return fmt.Errorf("%w: %q where %q belongs", errSyntax, c, want)
	}
	return nil
}

// str copies the rest of a string (the opening quote is read) to *dst,
// raw, through the closing quote.
func (s *objScanner) str(dst *[]byte) error {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return unexpectedEOF(err)
		}
		*dst = append(*dst, c)
		if len(*dst) > s.maxSmall {
			return fmt.Errorf("a string exceeds %d bytes", s.maxSmall)
		}
		switch {
		case c == '"':
			return nil
		case c == '\\':
			e, err := s.r.ReadByte()
			if err != nil {
				return unexpectedEOF(err)
			}
			*dst = append(*dst, e)
		case c < 0x20:
			return fmt.Errorf("%w: control character %#x in a string", errSyntax, c)
		}
	}
}

// value copies one JSON value to *dst, raw; encoding/json checks it later.
func (s *objScanner) value(dst *[]byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", errSyntax, maxDepth)
	}
	c, err := s.skipSpace()
	if err != nil {
		return unexpectedEOF(err)
	}
	*dst = append(*dst, c)
	switch c {
	case '"':
		return s.str(dst)
	case '{', '[':
		return s.compound(dst, c, depth)
	}
	for {
		c, err := s.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !literalByte(c) {
			return s.r.UnreadByte()
		}
		*dst = append(*dst, c)
		if len(*dst) > s.maxSmall {
			return fmt.Errorf("a value exceeds %d bytes", s.maxSmall)
		}
	}
}

func literalByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func (s *objScanner) compound(dst *[]byte, open byte, depth int) error {
	end := byte('}')
	if open == '[' {
		end = ']'
	}
	for first := true; ; first = false {
		c, err := s.skipSpace()
		if err != nil {
			return unexpectedEOF(err)
		}
		if c == end && first {
			*dst = append(*dst, c)
			return nil
		}
		if err := s.r.UnreadByte(); err != nil {
			return err
		}
		if open == '{' {
			if err := s.expect('"'); err != nil {
				return err
			}
			*dst = append(*dst, '"')
			if err := s.str(dst); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			*dst = append(*dst, ':')
		}
		if err := s.value(dst, depth+1); err != nil {
			return err
		}
		c, err = s.skipSpace()
		if err != nil {
			return unexpectedEOF(err)
		}
		*dst = append(*dst, c)
		if c == end {
			return nil
		}
		if c != ',' {
			return fmt.Errorf("%w: %q in a list", errSyntax, c)
		}
	}
}

// streamed decodes the streamed member's value: a base64 string, or
// null (no bytes).
func (s *objScanner) streamed(open func([]byte) (io.Writer, error)) error {
	c, err := s.skipSpace()
	if err != nil {
		return unexpectedEOF(err)
	}
	if c == 'n' {
		var rest [3]byte
		if _, err := io.ReadFull(s.r, rest[:]); err != nil || string(rest[:]) != "ull" {
			return fmt.Errorf("%w: a literal that is not null", errSyntax)
		}
		if _, err := open(s.closed()); err != nil {
			return sinkError{err}
		}
		return nil
	}
	if c != '"' {
		return fmt.Errorf("%w: %q where a base64 string belongs", errSyntax, c)
	}
	w, err := open(s.closed())
	if err != nil {
		return sinkError{err}
	}
	d := b64Stream{w: w, buf: make([]byte, 0, b64Chunk), out: make([]byte, base64.StdEncoding.DecodedLen(b64Chunk))}
	for {
		if _, err := s.r.Peek(1); err != nil {
			return unexpectedEOF(err)
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		i := indexEither(chunk, '"', '\\')
		if err := d.addAll(chunk[:i]); err != nil {
			return err
		}
		_, _ = s.r.Discard(i)
		if i == len(chunk) {
			continue
		}
		c, _ := s.r.ReadByte()
		if c == '"' {
			return d.flush(true)
		}
		if c, err = s.escape(); err != nil {
			return err
		}
		if err := d.add(c); err != nil {
			return err
		}
	}
}

// escape decodes a JSON escape to the byte it stands for; only ASCII
// can be base64.
func (s *objScanner) escape() (byte, error) {
	e, err := s.r.ReadByte()
	if err != nil {
		return 0, unexpectedEOF(err)
	}
	switch e {
	case '"', '\\', '/':
		return e, nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 'b', 'f', 't':
		return 0x7f, nil // no base64 character: refused below
	case 'u':
		var h [4]byte
		if _, err := io.ReadFull(s.r, h[:]); err != nil {
			return 0, unexpectedEOF(err)
		}
		var r rune
		for _, x := range h {
			v, ok := hexVal(x)
			if !ok {
				return 0, fmt.Errorf("%w: bad \\u escape %q", errSyntax, h[:])
			}
			r = r<<4 | rune(v)
		}
		if r >= utf8.RuneSelf {
			return 0x7f, nil
		}
		return byte(r), nil
	}
	return 0, fmt.Errorf("%w: bad escape \\%c", errSyntax, e)
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// b64Stream decodes standard base64 pushed a byte at a time, in chunks.
type b64Stream struct {
	w      io.Writer
	buf    []byte
	out    []byte
	padded bool // a chunk ended in padding: nothing may follow
}

func (d *b64Stream) add(c byte) error {
	if c == '\r' || c == '\n' {
		return nil
	}
	if c < 0x20 || c >= 0x7f {
		return fmt.Errorf("%w: byte %#x in base64", errSyntax, c)
	}
	d.buf = append(d.buf, c)
	if len(d.buf) == cap(d.buf) {
		return d.flush(false)
	}
	return nil
}

// addAll adds raw string bytes (no quote, no backslash). As in JSON, a
// raw line break is refused (base64 would skip it); base64 refuses the
// other control characters and every byte it cannot decode.
func (d *b64Stream) addAll(p []byte) error {
	if i := indexEither(p, '\r', '\n'); i < len(p) {
		return fmt.Errorf("%w: control character %#x in a string", errSyntax, p[i])
	}
	for len(p) > 0 {
		n := min(len(p), cap(d.buf)-len(d.buf))
		d.buf = append(d.buf, p[:n]...)
		p = p[n:]
		if len(d.buf) == cap(d.buf) {
			if err := d.flush(false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *b64Stream) flush(last bool) error {
	if len(d.buf) == 0 {
		return nil
	}
	if d.padded {
		return fmt.Errorf("%w: base64 after padding", errSyntax)
	}
	if last && len(d.buf)%4 != 0 {
		return fmt.Errorf("%w: base64 of %d characters is not padded", errSyntax, len(d.buf))
	}
	n, err := base64.StdEncoding.Decode(d.out, d.buf)
	if err != nil {
		return fmt.Errorf("%w: base64: %w", errSyntax, err)
	}
	d.padded = d.buf[len(d.buf)-1] == '='
	d.buf = d.buf[:0]
	if _, err := d.w.Write(d.out[:n]); err != nil {
		return sinkError{err}
	}
	return nil
}

// indexEither is the index of the first a or b in p, len(p) if none
// (two IndexByte scans: assembly, unlike IndexAny's loop).
func indexEither(p []byte, a, b byte) int {
	i := bytes.IndexByte(p, a)
	if i < 0 {
		i = len(p)
	}
	if j := bytes.IndexByte(p[:i], b); j >= 0 {
		return j
	}
	return i
}
