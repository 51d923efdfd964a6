package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// runStat is `guestrpc stat [-L] [--json] PATH...`.
func runStat(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("stat", "[-L] [--json] PATH...", "Describes each guest PATH; a symlink is described itself unless -L.", stderr)
	follow := fset.Bool("L", false, "follow symlinks")
	asJSON := fset.Bool("json", false, "one JSON object per path")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	var firstErr error
	for _, p := range fset.Args() {
		fi, err := fc.Lstat(ctx, p)
		if *follow {
			fi, err = fc.Stat(ctx, p)
		}
		if err != nil {
			fmt.Fprintf(stderr, "guestrpc stat: %s: %v\n", p, err)
			firstErr = cmpErr(firstErr, err)
			continue
		}
		e := newEntry(p, *fi)
		if *asJSON {
			writeJSON(stdout, e)
			continue
		}
		fmt.Fprintf(stdout, "path: %s\ntype: %s\nmode: %s (%04o)\nsize: %d\nuid: %d\ngid: %d\nmtime: %s\n",
			e.Path, e.Type, e.Mode, e.Perm, e.Size, e.UID, e.GID, e.MTime.Format(time.RFC3339Nano))
		if e.Link != "" {
			fmt.Fprintf(stdout, "link: %s\n", e.Link)
		}
	}
	return exitFor(firstErr), quiet(firstErr)
}

// runRm is `guestrpc rm [-r] [-f] PATH...`.
func runRm(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("rm", "[-r] [-f] PATH...", "Removes guest files and empty directories; -r removes directories with their contents.", stderr)
	recursive := fset.Bool("r", false, "remove directories and everything in them")
	force := fset.Bool("f", false, "a missing PATH is not an error")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	remove := fc.Remove
	if *recursive {
		remove = fc.RemoveAll
	}
	return eachPath(fset.Args(), stderr, "rm", func(p string) error {
		if *recursive && !*force {
			// RemoveAll, as os.RemoveAll, accepts a missing path; rm -r does not.
			if _, err := fc.Lstat(ctx, p); err != nil {
				return err
			}
		}
		err := remove(ctx, p)
		if *force && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// runMkdir is `guestrpc mkdir [-p] [-m MODE] PATH...`.
func runMkdir(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("mkdir", "[-p] [-m MODE] PATH...", "Makes guest directories; an existing one is an error (status 5) unless -p.", stderr)
	parents := fset.Bool("p", false, "make missing parents; an existing directory is fine")
	modeStr := fset.String("m", "0755", "octal `MODE` of the new directories")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	mode, err := parseMode(*modeStr)
	if err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	mkdir := fc.Mkdir
	if *parents {
		mkdir = fc.MkdirAll
	}
	return eachPath(fset.Args(), stderr, "mkdir", func(p string) error {
		return mkdir(ctx, p, mode)
	})
}

// runMv is `guestrpc mv [-n] FROM TO`.
func runMv(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("mv", "[-n] FROM TO", "Renames FROM to TO inside the guest, replacing TO unless -n.", stderr)
	noClobber := fset.Bool("n", false, "fail (status 5) rather than replace an existing TO")
	if err := parse(fset, args, 2, 2); err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	rename := fc.Rename
	if *noClobber {
		rename = fc.RenameNoReplace
	}
	err := rename(ctx, fset.Arg(0), fset.Arg(1))
	return exitFor(err), err
}

// runChmod is `guestrpc chmod MODE PATH...`.
func runChmod(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("chmod", "MODE PATH...", "Sets the permission bits of guest files; MODE is octal (0644, 4755).", stderr)
	if err := parse(fset, args, 2, -1); err != nil {
		return exitUsage, err
	}
	mode, err := parseMode(fset.Arg(0))
	if err != nil {
		return exitUsage, err
	}
	return eachPath(fset.Args()[1:], stderr, "chmod", func(p string) error {
		return files.NewClient(c).Chmod(ctx, p, mode)
	})
}

// runChown is `guestrpc chown [-h] UID[:GID] PATH...`.
func runChown(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("chown", "[-h] UID[:GID] PATH...", "Sets the owner of guest files, following symlinks unless -h. Ids are numeric; an empty or absent one is kept (:GID changes only the group).", stderr)
	noDeref := fset.Bool("h", false, "change a symlink itself, not the file it points to")
	if err := parse(fset, args, 2, -1); err != nil {
		return exitUsage, err
	}
	uid, gid, err := parseOwner(fset.Arg(0))
	if err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	chown := fc.Chown
	if *noDeref {
		chown = fc.Lchown
	}
	return eachPath(fset.Args()[1:], stderr, "chown", func(p string) error {
		return chown(ctx, p, uid, gid)
	})
}

// runTouch is `guestrpc touch [-c] PATH...`.
func runTouch(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	fset := newFlags("touch", "[-c] PATH...", "Sets the access and modification times of guest files to now, creating missing ones empty.", stderr)
	noCreate := fset.Bool("c", false, "do not create missing files (they are then not an error)")
	if err := parse(fset, args, 1, -1); err != nil {
		return exitUsage, err
	}
	fc := files.NewClient(c)
	return eachPath(fset.Args(), stderr, "touch", func(p string) error {
		now := time.Now()
		err := fc.Chtimes(ctx, p, now, now)
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if *noCreate {
			return nil
		}
		_, err = fc.Upload(ctx, strings.NewReader(""), p, files.WriteOptions{Flag: files.CreateOnly})
		if errors.Is(err, fs.ErrExist) { // made meanwhile: touch it after all
			err = fc.Chtimes(ctx, p, now, now)
		}
		return err
	})
}

// runMktemp is `guestrpc mktemp [-d] [-p DIR] [-s SUFFIX] [PREFIX]`.
func runMktemp(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("mktemp", "[-d] [-p DIR] [-s SUFFIX] [PREFIX]", "Makes a new, uniquely named guest file (or directory) and prints its path.", stderr)
	dir := fset.Bool("d", false, "make a directory")
	parent := fset.String("p", "", "make it in `DIR` (default: the guest's temporary directory)")
	suffix := fset.String("s", "", "end the name with `SUFFIX`")
	if err := parse(fset, args, 0, 1); err != nil {
		return exitUsage, err
	}
	if strings.Contains(*suffix, "*") {
		return exitUsage, usageErrorf("suffix %q: may not hold a *", *suffix)
	}
	create := files.NewClient(c).CreateTemp
	if *dir {
		create = files.NewClient(c).MkdirTemp
	}
	p, err := create(ctx, *parent, fset.Arg(0)+"*"+*suffix)
	if err != nil {
		return exitFor(err), err
	}
	fmt.Fprintln(stdout, p)
	return exitOK, nil
}

// eachPath runs op on every path, reporting each failure on stderr; the
// status is that of the first failure.
func eachPath(paths []string, stderr io.Writer, verb string, op func(string) error) (int, error) {
	var firstErr error
	for _, p := range paths {
		if err := op(p); err != nil {
			fmt.Fprintf(stderr, "guestrpc %s: %s: %v\n", verb, p, err)
			firstErr = cmpErr(firstErr, err)
		}
	}
	return exitFor(firstErr), quiet(firstErr)
}

// cmpErr keeps the first error.
func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// errReported is an error already written to stderr: run prints no more.
type errReported struct{ err error }

func (e errReported) Error() string { return e.err.Error() }
func (e errReported) Unwrap() error { return e.err }

// quiet marks err (if any) as reported.
func quiet(err error) error {
	if err == nil {
		return nil
	}
	return errReported{err}
}

// parseMode parses an octal permission mode such as 0644 or 4755.
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, usageErrorf("mode %q: want octal permission bits, 0 to 7777", s)
	}
	m := fs.FileMode(n & 0o777)
	for bit, fm := range map[uint64]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if n&bit != 0 {
			m |= fm
		}
	}
	return m, nil
}

// parseOwner parses UID[:GID]; an empty or absent id is -1 (kept).
func parseOwner(s string) (uid, gid int, err error) {
	us, gs, _ := strings.Cut(s, ":")
	ids := []int{-1, -1}
	for i, v := range []string{us, gs} {
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, usageErrorf("owner %q: want numeric UID[:GID]", s)
		}
		ids[i] = n
	}
	if ids[0] < 0 && ids[1] < 0 {
		return 0, 0, usageErrorf("owner %q: names neither a uid nor a gid", s)
	}
	return ids[0], ids[1], nil
}
