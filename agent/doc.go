// Package agent assembles the default guestrpc agent: an rpc.Server with
// every built-in handler registered, served on any number of transports.
//
// cmd/guestrpc-agent is a thin command line over this package; custom init
// binaries and programs that embed the agent use it directly and add their
// own methods with RegisterHandler.
//
// ListenConfig turns target strings (transport.ParseTarget), options
// included, into listeners each served under its own rpc.Policy: who may
// connect on that transport (unix peer credentials, vsock context IDs,
// a token on TCP) and which methods they may call. See SECURITY.md.
package agent
