package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// entry is a file as ls and stat print it with --json.
type entry struct {
	Path  string    `json:"path"`
	Name  string    `json:"name"`
	Type  string    `json:"type"` // file, dir, symlink, socket, fifo, device, chardev, other
	Mode  string    `json:"mode"` // as ls -l shows it: drwxr-xr-x
	Perm  uint32    `json:"perm"` // the permission bits with setuid/setgid/sticky, 0o7777
	Size  int64     `json:"size"`
	UID   int       `json:"uid"`
	GID   int       `json:"gid"`
	MTime time.Time `json:"mtime"`
	Link  string    `json:"link,omitempty"`
}

func newEntry(p string, fi files.FileInfo) entry {
	perm := uint32(fi.Mode.Perm())
	for fm, bit := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if fi.Mode&fm != 0 {
			perm |= bit
		}
	}
	return entry{Path: p, Name: fi.Name, Type: fileType(fi.Mode), Mode: lsMode(fi.Mode), Perm: perm,
		Size: fi.Size, UID: fi.UID, GID: fi.GID, MTime: fi.ModTime, Link: fi.Link}
}

// fileType names the type bits of m.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "chardev"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "other"
}

// lsMode renders m as ls -l does: drwxr-xr-x, lrwxrwxrwx, -rwsr-xr-x,
// drwxrwxrwt (Go's FileMode.String differs for all but the plain ones).
func lsMode(m fs.FileMode) string {
	b := []byte("-rwxrwxrwx")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	for _, sp := range []struct {
		bit fs.FileMode
		i   int
		c   byte // lower case when the x bit under it is set
	}{{fs.ModeSetuid, 3, 's'}, {fs.ModeSetgid, 6, 's'}, {fs.ModeSticky, 9, 't'}} {
		switch {
		case m&sp.bit == 0:
		case b[sp.i] == 'x':
			b[sp.i] = sp.c
		default:
			b[sp.i] = sp.c - 'a' + 'A'
		}
	}
	return string(b)
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	fmt.Fprintf(w, "%s\n", b)
}

// lister prints what ls finds.
type lister struct {
	fc        *files.Client
	long      bool
	recursive bool
	asJSON    bool
	out       io.Writer
}

// runLs is `guestrpc ls [-l] [-R] [--json] [PATH...]`.
func runLs(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("ls", "[-l] [-R] [--json] [PATH...]", "Lists guest directories (default /) in directory order; a file is listed itself.\n"+
		"With -R, entries below PATH are shown as paths relative to it.", stderr)
	ls := lister{out: stdout}
	fset.BoolVar(&ls.long, "l", false, "long format: mode, uid, gid, size, mtime, name")
	fset.BoolVar(&ls.recursive, "R", false, "list subdirectories recursively (symlinks are not followed)")
	fset.BoolVar(&ls.asJSON, "json", false, "one JSON object per entry")
	if err := parse(fset, args, 0, -1); err != nil {
		return exitUsage, err
	}
	paths := fset.Args()
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	ls.fc = files.NewClient(c)
	return eachPath(paths, stderr, "ls", func(p string) error {
		fi, err := ls.fc.Stat(ctx, p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			ls.print(p, p, *fi)
			return nil
		}
		return ls.list(ctx, p, "")
	})
}

// list prints the entries of the guest directory root/rel and, with -R,
// recurses into its subdirectories once the listing is done.
func (ls *lister) list(ctx context.Context, root, rel string) error {
	dir := path.Join(root, rel)
	var subdirs []string
	err := ls.fc.ListFunc(ctx, dir, 0, func(page []files.FileInfo) error {
		for _, fi := range page {
			name := fi.Name
			if ls.recursive {
				name = path.Join(rel, fi.Name)
			}
			ls.print(path.Join(dir, fi.Name), name, fi)
			if ls.recursive && fi.IsDir() {
				subdirs = append(subdirs, path.Join(rel, fi.Name))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sub := range subdirs {
		if err := ls.list(ctx, root, sub); err != nil {
			return err
		}
	}
	return nil
}

// print writes one entry; full is its guest path, name what is shown.
func (ls *lister) print(full, name string, fi files.FileInfo) {
	switch {
	case ls.asJSON:
		e := newEntry(full, fi)
		e.Name = name
		writeJSON(ls.out, e)
	case ls.long:
		link := ""
		if fi.Link != "" {
			link = " -> " + fi.Link
		}
		fmt.Fprintf(ls.out, "%s %5d %5d %10d %s %s%s\n", lsMode(fi.Mode), fi.UID, fi.GID, fi.Size,
			fi.ModTime.Local().Format("2006-01-02 15:04"), name, link)
	default:
		fmt.Fprintln(ls.out, name)
	}
}
