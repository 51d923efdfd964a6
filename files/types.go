package files

import (
	"io/fs"
	"time"
)

// FileInfo describes one file, as file.stat and file.list report it.
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

// StatRequest is the argument of file.stat.
type StatRequest struct {
	Path string `json:"path"`
	// Lstat reports a symlink itself instead of what it points to.
	Lstat bool `json:"lstat,omitempty"`
}

// ListRequest is the argument of file.list. The reply streams pages of
// at most PageSize entries (default 1000), each a JSON array of
// FileInfo on its own line, so a huge directory never becomes one giant
// message.
type ListRequest struct {
	Path     string `json:"path"`
	PageSize int    `json:"page_size,omitempty"`
}

// ListResult is the final result of file.list.
type ListResult struct {
	Count int `json:"count"`
}

// MkdirRequest is the argument of file.mkdir.
type MkdirRequest struct {
	Path    string      `json:"path"`
	Mode    fs.FileMode `json:"mode,omitempty"` // default 0755
	Parents bool        `json:"parents,omitempty"`
}

// RemoveRequest is the argument of file.remove.
type RemoveRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
}

// RenameRequest is the argument of file.rename.
type RenameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Overwrite replaces an existing To; without it the call fails with
	// AlreadyExists.
	Overwrite bool `json:"overwrite,omitempty"`
}

// ChmodRequest is the argument of file.chmod.
type ChmodRequest struct {
	Path string      `json:"path"`
	Mode fs.FileMode `json:"mode"`
}

// ChownRequest is the argument of file.chown. -1 leaves an id unchanged.
type ChownRequest struct {
	Path   string `json:"path"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Lchown bool   `json:"lchown,omitempty"`
}

// ChtimesRequest is the argument of file.chtimes.
type ChtimesRequest struct {
	Path  string    `json:"path"`
	Atime time.Time `json:"atime"`
	Mtime time.Time `json:"mtime"`
}

// MkTempRequest is the argument of file.mktemp.
type MkTempRequest struct {
	// Dir holds the new file (default: the system's temporary directory,
	// or the root when there is one).
	Dir    string `json:"dir,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Suffix string `json:"suffix,omitempty"`
	// Directory makes a directory instead of a file.
	Directory bool `json:"directory,omitempty"`
}

// MkTempResult is the result of file.mktemp.
type MkTempResult struct {
	Path string `json:"path"`
}

// ReadOptions tune file.read.
type ReadOptions struct {
	Offset int64 `json:"offset,omitempty"`
	// Length caps the bytes read; 0 reads to the end of the file.
	Length int64 `json:"length,omitempty"`
	// Checksum asks for the sha256 of the bytes sent in the result; the
	// client verifies it.
	Checksum bool `json:"checksum,omitempty"`
}

// ReadRequest is the argument of file.read.
type ReadRequest struct {
	Path string `json:"path"`
	ReadOptions
}

// ReadResult is the final result (trailer) of file.read.
type ReadResult struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// WriteFlag says what file.write does with an existing file.
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

// WriteOptions tune file.write.
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

// WriteRequest is the argument of file.write.
type WriteRequest struct {
	Path string `json:"path"`
	WriteOptions
}

// WriteResult is the result of file.write.
type WriteResult struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// ArchiveRequest is the argument of file.archive. Op "get" streams the
// directory Path as a tar (gzip when Gzip); "put" extracts the tar the
// client streams into Path, creating it if missing.
type ArchiveRequest struct {
	Path string `json:"path"`
	Op   string `json:"op"`
	Gzip bool   `json:"gzip,omitempty"`
	// KeepSetuid keeps the setuid and setgid bits of extracted entries
	// (put); by default they are cleared.
	KeepSetuid bool `json:"keep_setuid,omitempty"`
}

// ArchiveResult is the result of file.archive.
type ArchiveResult struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
}
