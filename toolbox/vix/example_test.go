package vix_test

import (
	"context"
	"fmt"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
	"github.com/guestrpc/guestrpc/toolbox/vix"
	"github.com/guestrpc/guestrpc/transport"
)

// VIX ops run on the agent's own handlers: the VIX server gets a client
// of the agent's rpc.Server and becomes the toolbox's VIX hook. This
// example is compiled but not run: it needs an agent socket and a
// VMware guest's backdoor.
func ExampleNew() {
	ctx := context.Background()
	agentClient, err := transport.Dial(ctx, "unix:/run/guestrpc.sock", rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agentClient.Close()
	vs, err := vix.New(vix.Options{
		Client:       agentClient,
		Authenticate: vix.TrustVMX, // as govmomi's toolbox; the default refuses every credential
		ProcessIO:    true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vs.Close()
	port, err := backdoor.OpenPort()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer port.Close()
	rpci := backdoor.NewRPCI(port, false)
	defer rpci.Close()
	svc, err := toolbox.NewService(toolbox.Options{RPCI: rpci, VIX: vs.Handle})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	fmt.Println(srv.Serve(ctx, rpc.WithPolicy(backdoor.ListenTCLO(port, backdoor.TCLOOptions{RPCI: rpci}), toolbox.Policy())))
}
