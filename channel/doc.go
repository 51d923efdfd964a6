// Package channel carries guestrpc frames over a transport.
//
// A Channel sends and receives whole frames (see package wire), whatever
// carries them: a byte stream such as a unix, TCP or AF_VSOCK connection
// or a virtio-console port (NewStream), or a message transport such as
// VMware's TCLO, whose adapter translates text commands to frames. A
// Listener yields one Channel per peer session.
//
// This package builds channels from addresses, for programs that choose
// their transport themselves: ListenUnix, ListenTCP and DialUnix,
// DialTCP for sockets (DialUnix also reaches the host end of a
// virtio-console port, a QEMU or bhyve chardev socket), ListenVirtio for
// a virtio-console port inside the guest, and NewStream over any
// io.ReadWriteCloser. AF_VSOCK lives in package vsock. Target strings
// such as "vsock:3:5100", with their options, are package transport's
// alone: most programs start there (transport.Dial, transport.Listen).
//
// Stream's SendFile, TrySend and SetPayloadAlloc are what package rpc
// uses to move bulk data without copies and to answer PINGs without
// waiting on the peer; a program that hands its channel to rpc never
// calls them.
package channel
