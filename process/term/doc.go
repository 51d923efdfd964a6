// Package term puts a local terminal into raw mode and reads its size,
// for host programs that drive a remote TTY (guestrpc exec -t). It uses
// termios through golang.org/x/sys/unix on Linux and macOS; elsewhere
// MakeRaw and Size return an error wrapping errors.ErrUnsupported
// and IsTerminal reports false.
package term
