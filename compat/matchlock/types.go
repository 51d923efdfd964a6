package matchlock

import (
	"encoding/binary"
	"fmt"
)

// The JSON payloads, field for field as matchlock's agent marshals them:
// []byte fields are base64 (encoding/json's form), Env is an object.

// ExecRequest is the payload of Exec, ExecStream and ExecPipe.
type ExecRequest struct {
	Command    string            `json:"command"`
	Args       []string          `json:"args,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Stdin      []byte            `json:"stdin,omitempty"`
	User       string            `json:"user,omitempty"` // "uid", "uid:gid" or a user name
}

// ExecResponse is the payload of ExecResult.
type ExecResponse struct {
	ExitCode int    `json:"exit_code"`
	Stdout   []byte `json:"stdout,omitempty"`
	Stderr   []byte `json:"stderr,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ExecTTYRequest is the payload of ExecTTY.
type ExecTTYRequest struct {
	Command    string            `json:"command"`
	Args       []string          `json:"args,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Rows       uint16            `json:"rows"`
	Cols       uint16            `json:"cols"`
	User       string            `json:"user,omitempty"`
}

// WindowSize is a terminal size. On the wire (Resize) it is not JSON but
// four bytes: rows and cols, big-endian uint16 each.
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// PortForwardRequest is the payload of PortForward; Host "" means
// 127.0.0.1.
type PortForwardRequest struct {
	Host string `json:"host,omitempty"`
	Port uint16 `json:"port"`
}

// WriteFileRequest is the payload of WriteFile.
type WriteFileRequest struct {
	Path    string `json:"path"`
	Content []byte `json:"content"`
	Mode    uint32 `json:"mode"`
}

// ReadFileRequest is the payload of ReadFile.
type ReadFileRequest struct {
	Path string `json:"path"`
}

// ListFilesRequest is the payload of ListFiles.
type ListFilesRequest struct {
	Path string `json:"path"`
}

// FileInfo is one entry of a ListFiles reply. Mode is Go's fs.FileMode
// bits (a directory has bit 31 set), not a unix st_mode.
type FileInfo struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Mode  uint32 `json:"mode"`
	IsDir bool   `json:"is_dir"`
}

// FileResponse is the payload of FileResult.
type FileResponse struct {
	Content []byte     `json:"content,omitempty"`
	Files   []FileInfo `json:"files,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// The binary payloads.

// EncodeResize is the payload of Resize: rows then cols, big-endian.
func EncodeResize(ws WindowSize) []byte {
	b := binary.BigEndian.AppendUint16(nil, ws.Rows)
	return binary.BigEndian.AppendUint16(b, ws.Cols)
}

// DecodeResize decodes a Resize payload. matchlock's agent ignores one
// shorter than four bytes and any bytes past four; so does this.
func DecodeResize(p []byte) (WindowSize, error) {
	if len(p) < 4 {
		return WindowSize{}, fmt.Errorf("%w: resize of %d bytes, want 4", ErrBadPayload, len(p))
	}
	return WindowSize{Rows: binary.BigEndian.Uint16(p), Cols: binary.BigEndian.Uint16(p[2:])}, nil
}

// EncodeSignal is the payload of Signal: the signal number in one byte.
func EncodeSignal(sig uint8) []byte { return []byte{sig} }

// DecodeSignal decodes a Signal payload (its first byte; an empty one is
// an error, which matchlock's agent ignores).
func DecodeSignal(p []byte) (uint8, error) {
	if len(p) < 1 {
		return 0, fmt.Errorf("%w: empty signal", ErrBadPayload)
	}
	return p[0], nil
}

// EncodeExit is the payload of Exit: the exit code as a big-endian
// 32-bit two's complement number (-1, a process killed by a signal, is
// ff ff ff ff).
func EncodeExit(code int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(int32(code)))
}

// DecodeExit decodes an Exit payload. matchlock's host reads a payload
// shorter than four bytes as 0; this reports it as malformed.
func DecodeExit(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("%w: exit of %d bytes, want 4", ErrBadPayload, len(p))
	}
	return int(int32(binary.BigEndian.Uint32(p))), nil
}
