package backdoor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
)

// A guest tools program sends RPCI requests to the VMX. In a VMware
// guest the Port comes from backdoor.OpenPort (after Detect); here a Go
// model of the VMX stands in, since the real port exists only inside a
// VMware (or vmport=on QEMU) guest.
func ExampleNewRPCI() {
	vmx := &fakevmx.VMX{RPCI: func(req []byte) []byte {
		if r, ok := strings.CutPrefix(string(req), "info-get "); ok {
			if r == "guestinfo.greeting\x00" {
				return []byte("1 hello from the VMX")
			}
			return []byte("0 No value found")
		}
		return []byte("1 ")
	}}
	if _, _, ok := backdoor.GetVersion(vmx); !ok {
		fmt.Println("not a VMware hypervisor")
		return
	}
	rpci := backdoor.NewRPCI(vmx, false)
	ctx := context.Background()
	reply, err := rpci.Call(ctx, []byte("info-get guestinfo.greeting\x00"))
	fmt.Printf("%q %v\n", reply, err)

	_, err = rpci.Call(ctx, []byte("info-get guestinfo.missing\x00"))
	var rerr *backdoor.RPCIError
	if errors.As(err, &rerr) {
		fmt.Printf("%s: %s\n", rerr.Request, rerr.Reason)
	}
	// Output:
	// "hello from the VMX" <nil>
	// info-get: No value found
}

// In a real guest: detect the backdoor, open the port and ask the VMX
// for a guestinfo variable. This example is compiled but not run: it
// would touch I/O ports.
func ExampleDetect() {
	d, err := backdoor.Detect()
	if err != nil || !d.Backdoor {
		fmt.Println("no VMware backdoor here:", d.Vendor, err)
		return
	}
	port, err := backdoor.OpenPort()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer port.Close()
	reply, err := backdoor.NewRPCI(port, false).Call(context.Background(), []byte("info-get guestinfo.greeting\x00"))
	fmt.Printf("%q %v\n", reply, err)
}
