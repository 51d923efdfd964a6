package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/guestrpc/guestrpc/internal/linuxsig"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// Exit statuses, documented in the package comment and README, so that
// scripts can branch on them. exec returns the remote command's status
// instead (128+n for a signal), and call returns what its method failed
// with, as every other verb does.
const (
	exitOK            = 0 // done
	exitFailed        = 1 // the operation failed for any other reason
	exitUsage         = 2 // bad flags or arguments; nothing was sent
	exitNotFound      = 3 // no such file, process, variable or method target
	exitDenied        = 4 // the agent or the guest refused (permission, policy, token)
	exitExists        = 5 // the target already exists (mv -n, mkdir without -p)
	exitUnimplemented = 6 // the agent has no such method or cannot do it here
	exitUnreachable   = 7 // the agent could not be reached or the handshake failed
)

// errUsage marks an error in the arguments: exit status 2.
var errUsage = errors.New("usage")

// usageErrorf returns an error that exitFor maps to exitUsage.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// exitFor maps err to the exit status a script sees.
func exitFor(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return exitUsage
	}
	switch rpc.CodeOf(err) {
	case rpc.NotFound:
		return exitNotFound
	case rpc.PermissionDenied, rpc.Unauthenticated:
		return exitDenied
	case rpc.AlreadyExists:
		return exitExists
	case rpc.Unimplemented:
		return exitUnimplemented
	}
	return exitFailed
}

// shellStatus is the status a shell gives a command that ended with e:
// its exit code, or 128+n when signal n killed it.
func shellStatus(e *process.ExitError) int {
	if e.Signal == "" {
		return e.ExitCode
	}
	if n, ok := linuxsig.Number(e.Signal); ok {
		return 128 + n
	}
	return exitFailed
}

// exitStatusHelp is the table `guestrpc help` prints.
const exitStatusHelp = `exit statuses (exec returns the remote command's own):
  0  done
  1  failed (any other error)
  2  usage: bad flags or arguments, nothing was sent
  3  not found: no such file, process id or variable
  4  denied: permission, the agent's policy, or a missing/wrong token
  5  already exists (mkdir without -p, mv -n)
  6  the agent has no such method, or cannot do it on this guest
  7  the agent could not be reached
`

// printExitStatuses writes exitStatusHelp to w.
func printExitStatuses(w io.Writer) { fmt.Fprint(w, exitStatusHelp) }
