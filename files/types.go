package files

import (
	"io/fs"
	"time"
)

// The rpc methods of the file service; the client and the service name
// them through these constants only.
const (
	methodStat    = "file.stat"
	methodList    = "file.list"
	methodMkdir   = "file.mkdir"
	methodRemove  = "file.remove"
	methodRename  = "file.rename"
	methodChmod   = "file.chmod"
	methodChown   = "file.chown"
	methodChtimes = "file.chtimes"
	methodMkTemp  = "file.mktemp"
	methodRead    = "file.read"
	methodWrite   = "file.write"
	methodArchive = "file.archive"
)

// FileInfo describes one file, as Client.Stat and Client.List report
// it.
type FileInfo struct {
	Name    string      `json:"name"`
	Size    int64       `json:"size"`
	Mode    fs.FileMode `json:"mode"`
	ModTime time.Time   `json:"mtime"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
	// Link is the target of a symlink (when the info was not followed).
	Link string `json:"link,omitempty"`
}

// IsDir reports whether the info describes a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

// The arguments and results below are the JSON of the wire (see the
// package documentation); callers use the Client's methods.

// statRequest is the argument of file.stat.
type statRequest struct {
	Path string `json:"path"`
	// Lstat reports a symlink itself instead of what it points to.
	Lstat bool `json:"lstat,omitempty"`
}

// listRequest is the argument of file.list. The reply streams pages of
// at most PageSize entries (default 1000), each a JSON array of
// FileInfo on its own line, so a huge directory never becomes one giant
// message.
type listRequest struct {
	Path     string `json:"path"`
	PageSize int    `json:"page_size,omitempty"`
}

// listResult is the final result of file.list.
type listResult struct {
	Count int `json:"count"`
}

// mkdirRequest is the argument of file.mkdir.
type mkdirRequest struct {
	Path    string      `json:"path"`
	Mode    fs.FileMode `json:"mode,omitempty"` // default 0755
	Parents bool        `json:"parents,omitempty"`
}

// removeRequest is the argument of file.remove.
type removeRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
}

// renameRequest is the argument of file.rename.
type renameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Overwrite replaces an existing To; without it the call fails with
	// AlreadyExists.
	Overwrite bool `json:"overwrite,omitempty"`
}

// chmodRequest is the argument of file.chmod.
type chmodRequest struct {
	Path string      `json:"path"`
	Mode fs.FileMode `json:"mode"`
}

// chownRequest is the argument of file.chown. -1 leaves an id unchanged.
type chownRequest struct {
	Path   string `json:"path"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Lchown bool   `json:"lchown,omitempty"`
}

// chtimesRequest is the argument of file.chtimes.
type chtimesRequest struct {
	Path  string    `json:"path"`
	Atime time.Time `json:"atime"`
	Mtime time.Time `json:"mtime"`
}

// mkTempRequest is the argument of file.mktemp.
type mkTempRequest struct {
	// Dir holds the new file (default: the system's temporary directory,
	// or the root when there is one).
	Dir    string `json:"dir,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Suffix string `json:"suffix,omitempty"`
	// Directory makes a directory instead of a file.
	Directory bool `json:"directory,omitempty"`
}

// mkTempResult is the result of file.mktemp.
type mkTempResult struct {
	Path string `json:"path"`
}

// ReadOptions tune Client.Download (file.read).
type ReadOptions struct {
	Offset int64 `json:"offset,omitempty"`
	// Length caps the bytes read; 0 reads to the end of the file.
	Length int64 `json:"length,omitempty"`
	// Checksum asks for the sha256 of the bytes sent in the result; the
	// client verifies it.
	Checksum bool `json:"checksum,omitempty"`
}

// readRequest is the argument of file.read.
type readRequest struct {
	Path string `json:"path"`
	ReadOptions
}

// ReadResult is what Client.Download reports: the bytes the agent sent
// and, when asked for, their sha256 (hex).
type ReadResult struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// WriteFlag says what Client.Upload does with an existing file.
type WriteFlag string

// Write flags.
const (
	// Overwrite replaces the file atomically (the default).
	Overwrite WriteFlag = "overwrite"
	// CreateOnly fails with AlreadyExists if the file exists; the new file
	// appears whole or not at all.
	CreateOnly WriteFlag = "create"
	// Append adds to the end of the file (created if missing). Appends
	// are not atomic: a cut leaves the bytes that arrived.
	Append WriteFlag = "append"
)

// WriteOptions tune Client.Upload (file.write).
type WriteOptions struct {
	Flag WriteFlag `json:"flag,omitempty"`
	// Mode of a new file (default 0644; an overwrite keeps the old mode).
	Mode fs.FileMode `json:"mode,omitempty"`
	// UID and GID set the owner when not nil; an overwrite otherwise
	// keeps the old owner where it may.
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`
	// Parents creates missing parent directories.
	Parents bool `json:"parents,omitempty"`
	// Checksum verifies a sha256 end to end: the client sends its sum
	// after the data and the agent commits only when they agree.
	Checksum bool `json:"checksum,omitempty"`
}

// writeRequest is the argument of file.write.
type writeRequest struct {
	Path string `json:"path"`
	WriteOptions
}

// WriteResult is what Client.Upload reports: the bytes the agent wrote
// and, when asked for, their sha256 (hex).
type WriteResult struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// ArchiveOptions tune Client.ArchiveGet, Client.ArchivePut and
// WriteArchive.
type ArchiveOptions struct {
	// Gzip: the stream is a tar.gz rather than a plain tar.
	Gzip bool
	// KeepSetuid keeps the setuid and setgid bits of extracted entries
	// (ArchivePut); by default they are cleared. Writing an archive
	// always records them.
	KeepSetuid bool
}

// archiveRequest is the argument of file.archive. Op "get" streams the
// directory Path as a tar (gzip when Gzip); "put" extracts the tar the
// client streams into Path, creating it if missing.
type archiveRequest struct {
	Path       string `json:"path"`
	Op         string `json:"op"`
	Gzip       bool   `json:"gzip,omitempty"`
	KeepSetuid bool   `json:"keep_setuid,omitempty"`
}

// ArchiveResult is what an archive transfer reports: the entries
// written or extracted and the bytes of the (compressed) stream.
type ArchiveResult struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
}
