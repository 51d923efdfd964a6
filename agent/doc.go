// Package agent assembles the default guestrpc agent: an rpc.Server with
// every guest service registered (New), served on any number of
// listeners (Serve).
//
// cmd/guestrpc-agent is a thin command line over this package; custom
// init binaries and programs that embed the agent use it directly and
// add their own methods with RegisterHandler:
//
//	a, err := agent.New(agent.Config{Logger: log})
//	...
//	defer a.Close()
//	l, err := transport.Listen(ctx, "vsock:5100")
//	...
//	return a.Serve(ctx, l)
//
// Programs that want only some services assemble their own rpc.Server
// from the packages' NewService constructors instead. Target strings,
// with their per-listener policy options, are package transport's; see
// SECURITY.md for who may connect and what they may call. ListenVMware
// adds the VMware toolbox, StartCompat the seed protocols.
package agent
