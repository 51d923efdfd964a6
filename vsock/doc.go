// Package vsock carries guestrpc over virtio-vsock and the unix-socket
// front ends hypervisors put in front of it.
//
// Inside the guest, Listen serves on an AF_VSOCK port (DefaultPort) and
// DialHost connects out to the host (CID 2) for hosts that only accept
// connections; the agent then serves on that connection (reverse mode).
// On a Linux host with vhost-vsock, Dial connects to a guest by CID.
//
// Hypervisors that expose vsock as unix sockets need no AF_VSOCK on the
// host at all:
//
//   - Firecracker and Cloud Hypervisor ("hybrid vsock"): DialHybrid
//     connects to the VM's unix socket, writes "CONNECT <port>\n" and
//     reads "OK <assigned port>\n"; connections the guest opens to the
//     host arrive on the unix socket "<uds>_<port>", which ListenHybrid
//     serves.
//   - hyperkit: the VM's state directory holds a unix socket per
//     listening guest port, named "%08x.%08x" (CID.port in hex); guest
//     connections to the host arrive on "00000002.<port>" sockets there.
//     DialHyperkit and ListenHyperkit use them.
//
// These constructors are for programs that pick the transport
// themselves; a target string ("vsock:3:5100", "hybrid:UDS:PORT",
// "hyperkit:DIR:CID:PORT") goes through package transport, which calls
// them.
//
// AF_VSOCK is Linux-only; elsewhere Listen, Dial and DialHost return an
// error wrapping errors.ErrUnsupported. The unix-socket dialers work on
// every platform.
package vsock
