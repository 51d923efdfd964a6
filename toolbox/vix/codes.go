package vix

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/guestrpc/guestrpc/rpc"
)

// Code is a VixError (vix.h, vixOpenSource.h).
type Code int64

// Error codes.
const (
	OK               Code = 0
	ErrFail          Code = 1
	ErrNoMem         Code = 2
	ErrInvalidArg    Code = 3
	ErrFileNotFound  Code = 4
	ErrBusy          Code = 5
	ErrNotSupported  Code = 6
	ErrFileError     Code = 7
	ErrDiskFull      Code = 8
	ErrFileExists    Code = 12 // VIX_E_FILE_ALREADY_EXISTS
	ErrAccess        Code = 13 // VIX_E_FILE_ACCESS_ERROR
	ErrTooBig        Code = 21
	ErrAlreadyExists Code = 23 // VIX_E_ALREADY_EXISTS
	ErrAuthFail      Code = 35 // VIX_E_AUTHENTICATION_FAIL
	ErrUnrecognized  Code = 3025
	ErrBadHeader     Code = 10000 // VIX_E_INVALID_MESSAGE_HEADER
	ErrBadBody       Code = 10001 // VIX_E_INVALID_MESSAGE_BODY
	ErrNotAFile      Code = 20001
	ErrNotADir       Code = 20002
	ErrNoSuchProcess Code = 20003
	ErrNameTooLong   Code = 20004
	ErrDisabled      Code = 20005
	ErrDirNotEmpty   Code = 20006
)

// Op codes served (vixCommands.h).
const (
	OpHGFSPacket        = 84
	OpGetToolsState     = 62
	OpListFiles         = 177
	OpCreateDirectoryEx = 178
	OpMoveFileEx        = 179
	OpMoveDirectory     = 180
	OpCreateTempFileEx  = 181
	OpCreateTempDir     = 182
	OpSetFileAttributes = 183
	OpStartProgram      = 185
	OpListProcessesEx   = 186
	OpReadEnvVariables  = 187
	OpFileTransferFrom  = 188
	OpFileTransferTo    = 189
	OpTerminateProcess  = 193
	OpDeleteFileEx      = 194
	OpDeleteDirectoryEx = 195
)

// vixErr is an op's failure: the VixError and the errno that goes with
// it as the reply's additional error.
type vixErr struct {
	code  Code
	errno int32
	err   error
}

func (e *vixErr) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "vix error " + itoa(int64(e.code))
}

func (e *vixErr) Unwrap() error { return e.err }

func fail(code Code) error { return &vixErr{code: code} }

// toVIX maps an error from the agent's handlers to a VixError as
// vixTranslateErrOpenSource.c maps errno; rpc codes stand in for the
// errno the bridge does not carry.
func toVIX(err error) (Code, int32) {
	var ve *vixErr
	if errors.As(err, &ve) {
		return ve.code, ve.errno
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errnoCode(errno), int32(errno)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrFileNotFound, int32(syscall.ENOENT)
	case errors.Is(err, fs.ErrExist):
		return ErrFileExists, int32(syscall.EEXIST)
	case errors.Is(err, fs.ErrPermission):
		return ErrAccess, int32(syscall.EACCES)
	}
	switch rpc.CodeOf(err) {
	case rpc.InvalidArgument:
		return ErrInvalidArg, 0
	case rpc.ResourceExhausted:
		return ErrDiskFull, 0
	case rpc.FailedPrecondition:
		return ErrFileError, 0
	}
	return ErrFail, 0
}

func errnoCode(e syscall.Errno) Code {
	switch e {
	case syscall.ENOENT:
		return ErrFileNotFound
	case syscall.EEXIST:
		return ErrFileExists
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return ErrAccess
	case syscall.ENOSPC, syscall.EDQUOT:
		return ErrDiskFull
	case syscall.ENAMETOOLONG:
		return ErrNameTooLong
	case syscall.ENOTDIR:
		return ErrNotADir
	case syscall.EISDIR:
		return ErrNotAFile
	case syscall.ENOTEMPTY:
		return ErrDirNotEmpty
	case syscall.EFBIG:
		return ErrTooBig
	case syscall.ESRCH:
		return ErrNoSuchProcess
	case syscall.ENOMEM:
		return ErrNoMem
	case syscall.EINVAL:
		return ErrInvalidArg
	}
	return ErrFail
}
