// Package vsockexec speaks the protocol of vsock_guest_exec
// (github.com/oomol-lab/vsock-guest-exec): the guest connects out to the
// host, and the host sends shell commands over that connection. Guest
// runs Run (or Dial) in place of vsock_guest_exec, with every command
// going through the agent's process.start under the agent's policy; the
// host side (Listener, Conn) accepts the guest's connection and sends.
//
// # Wire format
//
// The guest connects to CID:port (default 2:1024). Host to guest only;
// the guest never replies.
//
//   - Disposable mode: the host writes the command; the guest takes what
//     one read returns (at most MaxCommand, 2048 bytes), runs it, and
//     ends.
//   - Persistent mode: each command is a 2-byte little-endian length and
//     that many bytes; the guest runs them one after another until the
//     host disconnects.
//
// A command is a /bin/sh command line (vsock_guest_exec calls system(3)),
// cut at its first NUL byte as C would. Its output goes where the
// agent's is sent (Options.Output), as system(3)'s goes to the guest's
// console; its exit status is logged. The protocol has no way to send
// either back: hosts that want output, exit codes, stdin or files use the
// native protocol on another port (DialHost and reverse mode in package
// vsock, or any listener).
//
// # Addresses
//
// ParseAddr reads vsock_guest_exec's first argument, "cid:port", "cid",
// ":port" or "cid:": a CID is taken only when it is -1 (any), 0, 1 or 2,
// and a port only in 0..65535; anything else keeps the default (2,
// 1024). vsock_guest_exec reads numbers with atoi(3), which takes "foo" as
// 0 and "12x" as 12; here a field that is not a decimal number is
// invalid and keeps the default, as its README documents.
//
// # Differences (defects fixed, bytes unchanged)
//
//   - A persistent length above MaxCommand overran vsock_guest_exec's
//     buffer; here the command is skipped (its bytes read and dropped),
//     logged, and the loop goes on with the next. A zero length runs
//     nothing.
//   - An empty disposable read (the host closed at once) ran stale
//     memory; here it runs nothing.
//   - Commands run as process.start calls: under the agent's Policy
//     (the host is a vsock peer, admitted by its CID), killed with their
//     process group when the context ends.
package vsockexec
