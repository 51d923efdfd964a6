package channel

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultUnixMode is the permission of a unix socket ListenUnix makes:
// only its owner may connect (connecting needs write permission).
const DefaultUnixMode os.FileMode = 0o600

// UnixOptions configure ListenUnixWith.
type UnixOptions struct {
	StreamOptions
	// Mode is the socket file's permission bits (default
	// DefaultUnixMode). The umask plays no part.
	Mode os.FileMode
	// Group, when set, is the socket file's group, by name or number; a
	// Mode such as 0660 then lets its members connect.
	Group string
}

// Errors of ListenUnixWith; use errors.Is.
var (
	errAddrInUse = errors.New("a live socket is already listening there")
	// ErrNotSocket is returned when the path exists and is not a socket:
	// ListenUnix never replaces it.
	ErrNotSocket = errors.New("channel: path exists and is not a socket")
)

// ListenUnixWith listens on the unix socket path. The socket is created
// with exactly opts.Mode and opts.Group and is never reachable with
// wider permissions: it is bound in a fresh private (0700) directory
// beside path, given its mode and group there, then renamed onto path.
// A stale socket left by an earlier run is replaced; a live one, or a
// path that is not a socket, is an error. Close removes the socket.
func ListenUnixWith(path string, opts UnixOptions) (*NetListener, error) {
	mode := opts.Mode
	if mode == 0 {
		mode = DefaultUnixMode
	}
	if mode&^os.ModePerm != 0 {
		return nil, fmt.Errorf("channel: listen unix %s: mode %v: %w: only permission bits", path, opts.Mode, fs.ErrInvalid)
	}
	gid := -1
	if opts.Group != "" {
		var err error
		if gid, err = LookupGroup(opts.Group); err != nil {
			return nil, fmt.Errorf("channel: listen unix %s: %w", path, err)
		}
	}
	if err := checkStale(path); err != nil {
		return nil, fmt.Errorf("channel: listen unix %s: %w", path, err)
	}
	l, err := bindPrivate(path, mode, gid)
	if err != nil {
		return nil, fmt.Errorf("channel: listen unix %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("channel: listen unix %s: %w", path, err)
	}
	nl := NewListener(l, opts.StreamOptions)
	nl.addr = &net.UnixAddr{Name: path, Net: "unix"}
	nl.cleanup = func() {
		// Remove the socket only if it is still ours: a later agent may
		// have replaced it.
		if now, err := os.Lstat(path); err == nil && os.SameFile(fi, now) {
			_ = os.Remove(path)
		}
	}
	return nl, nil
}

// checkStale refuses a path that holds a live socket or something other
// than a socket.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%w (%v)", ErrNotSocket, fi.Mode())
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return errAddrInUse
	}
	return nil
}

// bindPrivate binds a socket in a private directory beside path, sets
// its mode and group, and renames it onto path.
func bindPrivate(path string, mode os.FileMode, gid int) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The socket file moves: Close must not unlink by the old name.
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if gid >= 0 {
		if err := os.Lchown(tmp, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return l, nil
}

// LookupGroup returns the id of group, given by name or number.
func LookupGroup(group string) (int, error) {
	if n, err := strconv.ParseUint(group, 10, 31); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", group, err)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has id %q: %w", group, g.Gid, errors.ErrUnsupported)
	}
	return n, nil
}
