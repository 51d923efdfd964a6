// Package matchlock speaks the vsock protocol of matchlock's guest agent
// (github.com/jingkaihe/matchlock, pkg/vsock and
// internal/guestruntime/agent): a Server for the guest that is a drop-in
// replacement for that agent, running every request through the agent's
// own process.* and file.* handlers, and a Client for the host that
// drives either agent over any net.Conn.
//
// # Wire format
//
// Every message is a frame: a 1-byte type, a 4-byte big-endian payload
// length, the payload. A connection carries one request — the first
// frame — and its exchange, then closes. Ports: 5000 serves every request,
// 5002 is the ready check (accept and close: connecting at all means the
// agent is up; ServeReady), 5001 is the host's VFS service, which
// matchlock's guest dials for its FUSE file system; it is the host's
// protocol, not the agent's, and this package does not speak it.
//
//	type  name         direction   payload
//	 1    Exec         host→guest  ExecRequest JSON; reply ExecResult
//	 2    ExecResult   guest→host  ExecResponse JSON
//	 3    Stdout       guest→host  raw output bytes
//	 4    Stderr       guest→host  raw error output; also a refusal's text
//	 5    Signal       host→guest  one byte: the signal number
//	 6    Ready        guest→host  empty: the PortForward ACK
//	 7    Stdin        host→guest  raw input bytes; empty = EOF (ExecPipe)
//	 8    Resize       host→guest  rows, cols: big-endian uint16 each
//	 9    ExecTTY      host→guest  ExecTTYRequest JSON
//	10    Exit         guest→host  exit code, big-endian int32 (-1: signal)
//	11    ExecStream   host→guest  ExecRequest; Stdout/Stderr..., ExecResult
//	12    ExecPipe     host→guest  ExecRequest; Stdin/Signal in, output, Exit
//	13    PortForward  host→guest  PortForwardRequest; Ready, then raw bytes
//	14    WriteFile    host→guest  WriteFileRequest; FileResult
//	15    ReadFile     host→guest  ReadFileRequest; FileResult with content
//	16    ListFiles    host→guest  ListFilesRequest; FileResult with files
//	17    FileResult   guest→host  FileResponse JSON
//
// JSON payloads are exactly what the seed's Go types marshal to
// (encoding/json): []byte fields as standard base64, Env as an object,
// User as "uid", "uid:gid" or a name. The seed leaves the binary payloads
// open; matchlock's source fixes them, and so does this package (see
// EncodeResize, EncodeSignal, EncodeExit and the golden tests): Resize is
// rows then cols as big-endian uint16, Signal is the signal number in one
// byte, Exit is the code as a big-endian 32-bit two's complement number,
// the port-forward ACK is a Ready frame with no payload, and a refused
// port forward is one Stderr frame with the reason.
//
// # Semantics
//
// As matchlock's agent: the command is run by sh -c (Args unused), Env
// adds to the agent's environment, ExecTTY's process gets a new terminal
// with the requested size, a host that hangs up gets its command SIGTERM
// then, after TermGrace (5s), SIGKILL, and an Exit or ExitResult of -1
// means a signal killed the process. A WriteFile makes missing parent
// directories, creates a new file with Mode (0: 0644) and keeps the mode
// of an existing one; ListFiles reports Go's fs.FileMode bits.
//
// # Differences (defects fixed, bytes unchanged)
//
//   - Every request is a call on the agent's rpc.Server (process.start,
//     file.*, net.dial), admitted by its Policy: a unix-socket peer by its
//     SO_PEERCRED credentials, a vsock peer by its CID, as a native
//     connection would be; each matchlock connection counts against the
//     server's MaxConns, its command against MaxCalls. A refusal, and any other failure, is answered
//     in the form the request's type expects: an ExecResult or FileResult
//     with Error (ExecResult's exit code 1), Stderr then Exit(1) for
//     ExecPipe and ExecTTY, a Stderr frame for PortForward and for a
//     first frame of a type that starts no request.
//   - Lengths are checked before anything is allocated: a request, a
//     Stdin chunk or any frame held in memory may be MaxMessage (16 MiB)
//     at most; a WriteFile frame MaxWriteFile (1 GiB), and it is streamed,
//     never held. A peer past the cap gets the refusal above and the
//     connection is closed without its payload being read. A buffered
//     Exec keeps at most MaxExecOutput (16 MiB) of stdout and of stderr
//     and says in Error how much it discarded.
//   - Files are streamed: WriteFile's base64 content is decoded as it
//     arrives into an atomic file.write, ReadFile's reply is encoded as
//     file.read delivers it (its length follows from the file's size; a
//     file that shrinks meanwhile closes the connection instead of
//     sending a wrong frame); a file whose size reads 0 (/proc, /sys) is
//     read into memory, up to half of MaxMessage. The seed's 16 MiB read
//     limit becomes MaxWriteFile.
//   - Frames are written whole under a lock, so stdout, stderr and the
//     exit never interleave; a peer that takes no frame for StallTimeout
//     is disconnected, so a host that never reads cannot hold a command,
//     and one that sends no request within HeaderTimeout too.
//   - Signals and resizes act on the process group (matchlock's ExecTTY
//     signals only the process); ExecRequest.Stdin, which matchlock's
//     agent ignores, is the command's stdin for Exec and ExecStream.
//   - The client returns typed errors (ErrFrameTooLarge, ErrTruncated,
//     ErrUnexpected, ErrBadPayload, *RemoteError for ErrRemote), honors
//     contexts, and streams ReadFile and WriteFile.
package matchlock
