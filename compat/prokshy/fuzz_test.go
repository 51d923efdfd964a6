package prokshy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// FuzzLines: whatever the host sends, in whatever pieces, the line
// reader returns lines no longer than its cap and without newlines, drops
// the others whole, and tells a HELLO from a command line only by a
// leading NUL.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"upper\nhello\n", "\x00\x00\x00\x14\x00\x00\x00\x00\x01\x00GSRP", strings40() + "\nok\n", "a\r\nb\n", ""} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, piece uint8) {
		p := &pump{ch: make(chan chunk)}
		go func() {
			defer close(p.ch)
			for rest := b; len(rest) > 0; {
				n := min(len(rest), int(piece)+1)
				p.ch <- chunk{b: rest[:n]}
				rest = rest[n:]
			}
		}()
		r := &lineReader{p: p, max: 32}
		ctx := context.Background()
		for {
			if len(r.buf) > 0 && isHello(r.buf) && r.buf[0] != 0 {
				t.Fatal("a HELLO without a leading NUL")
			}
			line, err := r.line(ctx, nil)
			if errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(line) > 32 || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q", line)
			}
			if ValidName(string(trimIFS(line))) && bytes.IndexByte(line, 0) >= 0 {
				t.Fatalf("a valid name with a NUL: %q", line)
			}
		}
		for range p.ch { // drain
		}
	})
}

func strings40() string { return string(bytes.Repeat([]byte("x"), 40)) }
