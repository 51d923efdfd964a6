package toolbox_test

import (
	"context"
	"fmt"
	"time"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/internal/testutil/fakevmx"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
)

// The toolbox answers the VMX's TCLO commands and sends RPCI requests
// back, both over the backdoor. In a VMware guest the Port comes from
// backdoor.OpenPort; here a Go model of the VMX plays the host.
func ExampleNewService() {
	vmx := &fakevmx.VMX{}
	rpci := backdoor.NewRPCI(vmx, false)
	defer rpci.Close()
	svc, err := toolbox.NewService(toolbox.Options{
		RPCI:      rpci,
		PrimaryIP: func(context.Context) (string, error) { return "192.0.2.10", nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	l := backdoor.ListenTCLO(vmx, backdoor.TCLOOptions{RPCI: rpci, PollUnit: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, rpc.WithPolicy(l, toolbox.Policy())) }()
	defer func() { cancel(); <-done }()

	for _, cmd := range []string{"ping", "Set_Option broadcastIP 1", "No_Such_Command"} {
		reply, err := vmx.Command(ctx, cmd)
		fmt.Printf("%s: %q %v\n", cmd, reply, err)
	}
	// broadcastIP made the toolbox send the primary address.
	reqs, err := vmx.WaitRequests(ctx, 1)
	fmt.Printf("%q %v\n", reqs, err)
	// Output:
	// ping: "OK " <nil>
	// Set_Option broadcastIP 1: "OK " <nil>
	// No_Such_Command: "ERROR Unknown Command" <nil>
	// ["info-set guestinfo.ip 192.0.2.10\x00"] <nil>
}
