// Package rpc is the guestrpc dispatcher: a Server that routes calls to
// registered handlers, and a Client that makes them.
//
// NewClient is for callers that bring their own channel (package
// channel, vsock, or a pipe in a test); a host program that has a
// target string dials with transport.Dial instead, which returns a
// Client. NewServer is for programs that assemble their own set of
// methods; agent.New returns a Server with every guest service
// registered.
//
// The shape follows net/http. A Handler serves one method; HandlerFunc
// adapts a function; Unary adapts a typed JSON-in/JSON-out function;
// Middleware wraps handlers (authentication, logging). Server.Serve
// accepts sessions from a channel.Listener, ServeChannel serves one
// channel, and Shutdown drains in-flight calls.
//
// Each call is a stream multiplexed on one connection, so a single
// virtio-console port carries concurrent commands and file transfers.
// Streams carry raw bytes in DATA frames on up to 16 lanes under
// per-stream flow control: a receiver grants a window (DefaultWindow on
// a Server, DefaultClientWindow on a Client) and a sender never has more
// unacknowledged bytes in flight, so a stalled reader slows only its own
// stream and memory stays bounded. The client's
// context deadline travels with the call as a relative timeout and is
// enforced by the agent; canceling the client's context cancels the
// handler's. Failures are *Error values with gRPC-style codes that work
// with errors.Is on both sides.
//
// A call costs little more than the two system calls each way that any
// request and reply over a socket need. A client goroutine that waits
// for something from the agent (a unary call's reply, a stream's DATA,
// window or status) reads it on the calling goroutine when nobody else
// is reading, rather than have a read loop hand it over, and the server
// runs Inline
// handlers (such as sys.ping) on its read loop; other handlers each get
// a worker goroutine, reused from call to call.
//
// PROTOCOL.md at the repository root specifies the bytes.
package rpc
