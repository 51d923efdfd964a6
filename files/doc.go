// Package files serves native file operations to the host and gives the
// host a typed client for them.
//
// Guest side: NewService + Register add the methods file.stat, file.list,
// file.mkdir, file.remove, file.rename, file.chmod, file.chown,
// file.chtimes, file.mktemp, file.read, file.write and file.archive to an
// rpc.Server. Bytes travel raw in DATA frames, flow-controlled, so a
// transfer runs close to the speed of the socket and never buffers a
// whole file.
//
// Writes that replace a file are atomic: the data goes to a temporary
// file in the target's directory, which is fsynced, renamed over the
// target, and the directory fsynced. A write cut short at any point (a
// dropped connection, a canceled call, a checksum mismatch) removes the
// temporary file and leaves the old file, or none, in place.
//
// Policy: Options.Root confines every path. Relative paths are taken
// from the root; absolute paths must lie inside it. On Linux every path
// is opened with openat2(RESOLVE_BENEATH), so neither ".." nor a symlink
// (even one swapped in while a call runs) can reach outside; elsewhere,
// or on kernels without openat2, os.Root gives the same guarantee. An
// escape fails with PermissionDenied naming the offending path.
// Options.ReadOnly refuses every call that would change the file system.
//
// Host side: NewClient wraps an *rpc.Client; Upload and Download stream
// an io.Reader or io.Writer and, when asked, verify a sha256 end to end.
package files
