// Package files serves native file operations to the host and gives the
// host a typed client for them.
//
// NewClient is for host programs: it wraps an *rpc.Client connected to
// an agent. The Client's metadata methods mirror package os, with a
// context first: Stat, Lstat, Mkdir, MkdirAll, Remove, RemoveAll,
// Rename, Chmod, Chown, Lchown, Chtimes, CreateTemp and MkdirTemp, and
// RenameNoReplace, which refuses to replace newpath; List and
// ListFunc read a directory. Upload and Download stream an io.Reader or
// io.Writer to or from a guest file and, when asked, verify a sha256
// end to end; ArchivePut and ArchiveGet move whole directories as tar
// streams. Errors are *rpc.Error values that errors.Is matches against
// fs.ErrNotExist, fs.ErrExist and fs.ErrPermission.
//
// NewService is for programs that assemble their own rpc.Server (the
// agent registers it for you): Register adds the methods file.stat,
// file.list, file.mkdir, file.remove, file.rename, file.chmod,
// file.chown, file.chtimes, file.mktemp, file.read, file.write and
// file.archive. Their arguments and results are JSON objects, listed
// in PROTOCOL.md ("File methods") for clients in other languages; bytes
// travel raw in DATA frames, flow-controlled, so a transfer runs close
// to the speed of the socket and never buffers a whole file.
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
// NewPolicy is for other services that reach the same files (package
// hgfs): share the Service's (Service.Policy) so that every way in
// obeys one set of rules.
//
// WriteArchive and ExtractArchive are the tar code of file.archive, for
// the host side of a transfer: they read and write a local directory
// through an *os.Root.
package files
