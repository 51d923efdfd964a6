// Package sysinfo serves sys.info, the agent's description of itself and
// the guest: operating system, architecture, kernel, host name, uptimes,
// the agent's process figures, and the methods the caller may call.
//
// NewService is for programs that assemble their own rpc.Server;
// agent.New registers it for you. NewClient is for host programs:
//
//	info, err := sysinfo.NewClient(c).Info(ctx)
//
// The method list honours the caller's policy (rpc.Request.Allowed), so
// a peer limited to a few methods sees only those.
package sysinfo
