package wire_test

import (
	"bytes"
	"fmt"

	"github.com/guestrpc/guestrpc/wire"
)

// Every frame is a 10-byte header (payload length, stream id, type,
// flags) followed by the payload.
func ExampleEncoder() {
	var buf bytes.Buffer
	enc := wire.NewEncoder(&buf)
	enc.Encode(&wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, 7)})
	fmt.Printf("% x\n", buf.Bytes())

	var f wire.Frame
	err := wire.NewDecoder(&buf, 0).Decode(&f)
	seq, _ := wire.ParsePing(f.Payload)
	fmt.Println(f.Type, seq, err)
	// Output:
	// 00 00 00 08 00 00 00 00 08 00 00 00 00 00 00 00 00 07
	// PING 7 <nil>
}
