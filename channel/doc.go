// Package channel carries guestrpc frames over a transport.
//
// A Channel sends and receives whole frames (see package wire), whatever
// carries them: a byte stream such as a unix, TCP or AF_VSOCK connection
// or a virtio-console port (NewStream), or a message transport such as
// VMware's TCLO, whose adapter translates text commands to frames. A
// Listener yields one Channel per peer session.
//
// Dial and Listen build channels from target strings such as
// "unix:/run/agent.sock", "tcp:127.0.0.1:5100" or "vsock:3:5100"; the
// transport packages (vsock, and the virtio-console code here) provide the
// connections underneath.
package channel
