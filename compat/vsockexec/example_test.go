package vsockexec_test

import (
	"bytes"
	"fmt"

	"github.com/guestrpc/guestrpc/compat/vsockexec"
)

// vsock_guest_exec's address argument: fields that are not valid keep
// the defaults (CID 2, port 1024).
func ExampleParseAddr() {
	for _, s := range []string{"2:5000", ":5000", "3", "foo:12x"} {
		cid, port := vsockexec.ParseAddr(s)
		fmt.Println(s, cid, port)
	}
	// Output:
	// 2:5000 2 5000
	// :5000 2 5000
	// 3 2 1024
	// foo:12x 2 1024
}

// In persistent mode each command is a 2-byte little-endian length and
// the command line.
func ExampleReadCommand() {
	b, err := vsockexec.AppendCommand(nil, "uname -a")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ = vsockexec.AppendCommand(b, "true")
	fmt.Printf("% x\n", b[:2])
	r := bytes.NewReader(b)
	for {
		cmd, err := vsockexec.ReadCommand(r)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%q\n", cmd)
	}
	// Output:
	// 08 00
	// "uname -a"
	// "true"
	// EOF
}
