// Package channel carries guestrpc frames over a transport.
//
// A Channel sends and receives whole frames (see package wire), whatever
// carries them: a byte stream such as a unix, TCP or AF_VSOCK connection
// or a virtio-console port (NewStream), or a message transport such as
// VMware's TCLO, whose adapter translates text commands to frames. A
// Listener yields one Channel per peer session.
//
// Dial and Listen build channels from the target strings of the
// transports this package has itself: "unix:/run/agent.sock" and
// "tcp:127.0.0.1:5100", and for Dial "virtio:PATH", the host end of a
// virtio-console port. AF_VSOCK ("vsock:3:5100") lives in package vsock;
// package transport knows every target string, with its options.
// ListenVirtio opens a virtio-console port on the guest side.
package channel
