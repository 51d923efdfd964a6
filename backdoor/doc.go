// Package backdoor speaks the VMware backdoor: the I/O-port interface a
// VMware hypervisor (and QEMU with vmport=on) offers a guest.
//
// It provides detection (the CPUID hypervisor bit, then the GETVERSION
// command answering with the magic 0x564D5868), and the message protocol
// that carries RPCI (guest→VMX requests) and TCLO (VMX→guest commands):
// open, send size, send payload, receive size, receive payload, receive
// status, close — with cookies, and high-bandwidth transfers (REP
// INSB/OUTSB on port 0x5659) when the VMX offers them.
//
// On top of the message channel: RPCI, a client for guest → VMX requests
// ("1 "/"0 " replies, one request at a time), and ListenTCLO, which runs
// open-vm-tools' TCLO poll loop and translates each VMX command into a
// call on an rpc.Server (PROTOCOL.md, "TCLO").
//
// Where this package departs from open-vm-tools' message.c: a message is
// started over after at most MaxRetries checkpoints in a row (message.c
// retries for ever), and a RECVSTATUS the VMX does not acknowledge starts
// the receive over whatever the status (message.c only on a checkpoint;
// Linux's vmwgfx does the same as here). A message the guest refuses is
// aborted as message.c does: RECVPAYLOAD(0) while bytes remain.
//
// The port I/O sits behind the Port interface, so the whole protocol runs
// against a Go fake of the VMX in tests. The real Port exists only on
// linux/amd64, where it runs on one locked OS thread that raised its I/O
// privilege level with iopl(3) (privilege is per thread); elsewhere
// OpenPort returns an error wrapping errors.ErrUnsupported.
//
// The backdoor is never probed on a machine whose CPU reports no
// hypervisor: on real hardware those ports may belong to a device.
package backdoor
