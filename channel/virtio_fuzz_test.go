//go:build linux || darwin || freebsd

package channel

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/guestrpc/guestrpc/wire"
)

// FuzzHelloScanner: whatever precedes a HELLO frame, the scanner starts
// the stream exactly at it; with no HELLO it ends with the reader's EOF.
func FuzzHelloScanner(f *testing.F) {
	hello := wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, Name: "h"})})
	f.Add([]byte{}, true)
	f.Add([]byte("noise GSRP"), true)
	f.Add(hello[:12], true)
	f.Add([]byte{0, 0, 0, 5, 0, 0, 0, 9, 0xEE, 0}, false)
	f.Fuzz(func(t *testing.T, noise []byte, withHello bool) {
		if bytes.Contains(noise, []byte(wire.HelloMagic)) {
			return // the noise may hold a HELLO start of its own
		}
		in := append([]byte(nil), noise...)
		if withHello {
			in = append(in, hello...)
		}
		got, err := io.ReadAll(&helloScanner{r: bytes.NewReader(in)})
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		want := []byte{}
		if withHello {
			want = hello
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("scanner gave %x, want %x", got, want)
		}
	})
}
