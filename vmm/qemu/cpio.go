package qemu

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// CPIO writes a cpio archive in the "newc" format the kernel unpacks as
// an initramfs. Entries are written in order; parents must come first.
type CPIO struct {
	w   *bufio.Writer
	ino uint32
	err error
}

// NewCPIO returns a writer of a newc archive to w.
func NewCPIO(w io.Writer) *CPIO { return &CPIO{w: bufio.NewWriter(w), ino: 1} }

// Dir adds a directory.
func (c *CPIO) Dir(name string, perm fs.FileMode) {
	c.entry(name, 0o040000|uint32(perm.Perm()), nil)
}

// File adds a regular file with the given contents.
func (c *CPIO) File(name string, perm fs.FileMode, data []byte) {
	c.entry(name, 0o100000|uint32(perm.Perm()), data)
}

// Symlink adds a symbolic link name → target.
func (c *CPIO) Symlink(name, target string) {
	c.entry(name, 0o120777, []byte(target))
}

// Close writes the trailer and flushes.
func (c *CPIO) Close() error {
	c.entry("TRAILER!!!", 0, nil)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

func (c *CPIO) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		name = "."
	}
	ino := c.ino
	c.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	// newc: magic, then 13 eight-digit hex fields; name and data are each
	// padded to a multiple of 4 bytes counted from the archive start.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write(make([]byte, 1+pad4(len(hdr)+len(name)+1)))
	c.write(data)
	c.write(make([]byte, pad4(len(data))))
}

func (c *CPIO) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func pad4(n int) int { return (4 - n%4) % 4 }
