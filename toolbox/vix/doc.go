// Package vix is the guest side of VMware's VIX guest operations: the
// TCLO command Vix_1_Relayed_Command, which carries a binary VIX request
// from the VMX, served as open-vm-tools' vix plugin answers it.
//
// Server.Handle is the toolbox's VIX hook (toolbox.Options.VIX). It
// validates the request header exactly as OVT does (anything else is
// BAD_HEADER, 10000), checks every length against the bytes received
// before it slices or allocates, authenticates the credential through
// Options.Authenticate, runs the op, and answers "<err> <errno> " and the
// result (a NUL-terminated string, or "#" and bytes when the request
// asks for a binary result), at most 64 KiB.
//
// The ops run on the agent's own handlers through Options.Client, a
// connection to the agent's rpc.Server: programs through process.*,
// files through file.* under the one files.Policy, HGFS packets through
// hgfs.packet. So VIX reaches nothing the agent's policy does not give
// the VMware transport, and nothing is implemented twice.
//
// Authentication: every op but GetToolsState carries a credential. The
// default Authenticate refuses it with AUTH_FAIL (35) and logs how to
// configure one; TrustVMX accepts any credential from the VMX, as
// govmomi's toolbox does (guestrpc-agent --vmware-trust-vix).
//
// Process I/O without disk files (seed 000, govmomi's toolbox): with
// Options.ProcessIO a program's stdin, stdout and stderr are the files
// /proc/<pid>/stdin, stdout and stderr of the HGFS server (ProcessIO, a
// FileHandler) and of InitiateFileTransferFromGuest/ToGuest, each in a
// bounded buffer; RoundTripFunc, a Go-function process (Options.GoFuncs),
// carries one exchange between that stdio and a guest TCP address, so an
// HTTP request reaches a service bound to the guest's loopback.
//
// Deliberate differences from OVT: headerLength must be 51 and
// totalMessageLength must equal the sum of the parts for every op (OVT
// skips the second check for ops without a body) and lie within the
// bytes received (OVT never checks this); ListProcessesEx's pid list and
// ListFiles' index are checked against the body (OVT reads past the end
// or asserts); TerminateProcess kills only programs started through VIX
// (OVT kills any pid the user may); ListFiles patterns are Go regular
// expressions (OVT: GLib's PCRE) and names are sorted; <at> is the
// modification time; programs run as the user Authenticate names (none:
// the agent's user); the root's ".." is not listed when the file policy
// confines the files to it.
package vix
