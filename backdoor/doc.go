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
// The port I/O sits behind the Port interface, so the whole protocol runs
// against a Go fake of the VMX in tests. The real Port exists only on
// linux/amd64, where it runs on one locked OS thread that raised its I/O
// privilege level with iopl(3) (privilege is per thread); elsewhere
// OpenPort returns ErrNotSupported.
//
// The backdoor is never probed on a machine whose CPU reports no
// hypervisor: on real hardware those ports may belong to a device.
package backdoor
