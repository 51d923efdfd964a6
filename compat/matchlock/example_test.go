package matchlock_test

import (
	"bytes"
	"fmt"

	"github.com/guestrpc/guestrpc/compat/matchlock"
)

// A matchlock frame is a type byte, a big-endian length and the payload;
// ReadFrame checks the length against a cap before it allocates.
func ExampleReadFrame() {
	b := matchlock.AppendFrame(nil, matchlock.MsgResize, matchlock.EncodeResize(matchlock.WindowSize{Rows: 24, Cols: 80}))
	fmt.Printf("% x\n", b)

	typ, payload, err := matchlock.ReadFrame(bytes.NewReader(b), matchlock.DefaultMaxMessage)
	if err != nil {
		fmt.Println(err)
		return
	}
	ws, err := matchlock.DecodeResize(payload)
	fmt.Println(typ == matchlock.MsgResize, ws.Rows, ws.Cols, err)

	_, _, err = matchlock.ReadFrame(bytes.NewReader(matchlock.AppendHeader(nil, matchlock.MsgStdin, 1<<30)), matchlock.DefaultMaxMessage)
	fmt.Println(err != nil)
	// Output:
	// 08 00 00 00 04 00 18 00 50
	// true 24 80 <nil>
	// true
}
