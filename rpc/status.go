package rpc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// Code is a status code. The names and numbers follow gRPC's.
type Code uint16

// Status codes.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

var codeNames = [...]string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
	"Unauthenticated",
}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint16(c))
}

// Error is a status carried by a STATUS frame. On the server a handler
// may return one (see Errorf); on the client every failed call returns one.
type Error struct {
	Code    Code
	Message string
	cause   error // server side only: what Errorf wrapped
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "rpc: " + e.Code.String()
	}
	return "rpc: " + e.Code.String() + ": " + e.Message
}

// Unwrap returns the error Errorf wrapped, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether e matches target: an *Error with the same code (and
// the same message, unless target's is empty, as for the Err* sentinels),
// or the standard error that the code stands for (fs.ErrNotExist for
// NotFound, context.DeadlineExceeded for DeadlineExceeded, ...).
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
	}
	switch target {
	case fs.ErrNotExist:
		return e.Code == NotFound
	case fs.ErrExist:
		return e.Code == AlreadyExists
	case fs.ErrPermission:
		return e.Code == PermissionDenied
	case context.Canceled:
		return e.Code == Canceled
	case context.DeadlineExceeded:
		return e.Code == DeadlineExceeded
	}
	return false
}

// Sentinels for errors.Is: each matches any *Error with its code.
var (
	ErrCanceled           = &Error{Code: Canceled}
	ErrUnknown            = &Error{Code: Unknown}
	ErrInvalidArgument    = &Error{Code: InvalidArgument}
	ErrDeadlineExceeded   = &Error{Code: DeadlineExceeded}
	ErrNotFound           = &Error{Code: NotFound}
	ErrAlreadyExists      = &Error{Code: AlreadyExists}
	ErrPermissionDenied   = &Error{Code: PermissionDenied}
	ErrResourceExhausted  = &Error{Code: ResourceExhausted}
	ErrFailedPrecondition = &Error{Code: FailedPrecondition}
	ErrAborted            = &Error{Code: Aborted}
	ErrOutOfRange         = &Error{Code: OutOfRange}
	ErrUnimplemented      = &Error{Code: Unimplemented}
	ErrInternal           = &Error{Code: Internal}
	ErrUnavailable        = &Error{Code: Unavailable}
	ErrDataLoss           = &Error{Code: DataLoss}
	ErrUnauthenticated    = &Error{Code: Unauthenticated}
)

// Errorf returns an *Error with code and a message formatted as
// fmt.Errorf does; a %w operand stays reachable through errors.Is/As on
// the server side.
func Errorf(code Code, format string, args ...any) error {
	cause := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: cause.Error(), cause: cause}
}

// CodeOf returns the status code for err: the code of an *Error in its
// chain, or the code that a well-known error stands for.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY):
		// Before fs.ErrExist, which ENOTEMPTY also matches.
		return FailedPrecondition
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, fs.ErrNotExist):
		return NotFound
	case errors.Is(err, fs.ErrExist):
		return AlreadyExists
	case errors.Is(err, fs.ErrPermission):
		return PermissionDenied
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENAMETOOLONG):
		return InvalidArgument
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENOMEM):
		return ResourceExhausted
	}
	return Unknown
}
