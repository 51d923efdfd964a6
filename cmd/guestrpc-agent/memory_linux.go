package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxSmapsLine caps the length of a line of /proc/self/smaps that
// releaseText reads; a longer one (a path of thousands of bytes) ends
// the reading, and nothing more is released.
const maxSmapsLine = 4096

// releaseText unmaps the pages of the agent's own binary that start-up
// touched, in its read-only segments (code, read-only data, the pc-line
// tables). The pages stay in the page cache, so what the agent runs
// again costs it a minor fault (the kernel then maps the cached pages
// around it too); its resident set loses the pages only start-up used.
// Segments that hold private copies (a dynamically linked build's
// relocated read-only data) are left alone: unmapping those would lose
// their contents. It returns the bytes advised. It reads smaps through
// one small buffer and allocates nothing per line, so that it leaves no
// garbage behind in an agent that may not collect for a long time.
func releaseText() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	err = readOnlySegments(f, exe, func(s span) error {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(s.start), uintptr(s.end-s.start), unix.MADV_DONTNEED); e != 0 {
			return fmt.Errorf("madvise %#x-%#x: %w", s.start, s.end, e)
		}
		n += int64(s.end - s.start)
		return nil
	})
	return n, err
}

// readOnlySegments calls fn for each mapping of the file exe in the
// smaps text r that is not writable and holds no private (anonymous)
// pages, until fn fails.
func readOnlySegments(r io.Reader, exe string, fn func(span) error) error {
	var cur span
	var ok bool
	br := bufio.NewReaderSize(r, maxSmapsLine)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("reading smaps: %w", err)
		}
		if s, header := smapsHeader(line, exe); header {
			cur, ok = s, s.end > s.start
			continue
		}
		if !ok || !bytes.HasPrefix(line, []byte("Anonymous:")) {
			continue
		}
		ok = false
		if v := bytes.TrimSpace(line[len("Anonymous:"):]); !bytes.Equal(v, []byte("0 kB")) {
			continue // private copies: leave them
		}
		if err := fn(cur); err != nil {
			return err
		}
	}
}

// span is an address range [start, end).
type span struct{ start, end uint64 }

// smapsHeader reports whether line heads a mapping in smaps
// ("START-END PERMS OFFSET DEV INODE [PATH]") and returns its range if
// the mapping is exe's and not writable, an empty span otherwise.
func smapsHeader(line []byte, exe string) (s span, header bool) {
	rng, rest, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
	if !ok || bytes.HasSuffix(rng, []byte(":")) {
		return span{}, false // a "Key: value" line
	}
	lo, hi, ok := bytes.Cut(rng, []byte("-"))
	if !ok {
		return span{}, false
	}
	start, ok1 := parseHex(lo)
	end, ok2 := parseHex(hi)
	if !ok1 || !ok2 {
		return span{}, false
	}
	perms, rest, _ := bytes.Cut(rest, []byte(" "))
	for range 3 { // offset, device, inode
		rest = bytes.TrimLeft(rest, " ")
		_, rest, _ = bytes.Cut(rest, []byte(" "))
	}
	page := uint64(os.Getpagesize())
	if len(perms) < 2 || perms[1] == 'w' || string(bytes.TrimSpace(rest)) != exe ||
		end <= start || start%page != 0 || end%page != 0 {
		return span{}, true
	}
	return span{start, end}, true
}

// parseHex parses a non-empty hexadecimal number of at most 16 digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
