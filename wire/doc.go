// Package wire is the guestrpc frame codec.
//
// Every byte-stream transport (AF_VSOCK, virtio-console, unix and TCP
// sockets) carries the same frames: a 10-byte header followed by a payload.
//
//	offset size field
//	0      4    payload length, big-endian uint32
//	4      4    stream id, big-endian uint32
//	8      1    type
//	9      1    flags
//	10     n    payload
//
// The codec has no I/O policy and starts no goroutines. A Decoder checks
// every length against its cap before it allocates, reuses its buffer, and
// never panics on any input; an Encoder writes each frame with a single
// Write call. PROTOCOL.md at the repository root describes every frame
// type and payload layout; the payload helpers in this package
// (Hello, Open, Status, ...) encode and decode them.
package wire
