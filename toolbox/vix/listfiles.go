package vix

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/guestrpc/guestrpc/files"
)

type listReq struct {
	path, pattern     string
	index, maxResults int32
	offset            uint64
}

// parseListReq (177, 188): i32 options, u32 pathLen, u32 patternLen,
// i32 index, i32 maxResults, u64 offset; the path, then the pattern
// when patternLen > 0.
func parseListReq(req *request) (listReq, error) {
	r, err := body(req, 28)
	if err != nil {
		return listReq{}, err
	}
	r.i32()
	pl, patl := r.u32(), r.u32()
	lr := listReq{index: r.i32(), maxResults: r.i32(), offset: r.u64()}
	lr.path = r.str(pl)
	if patl > 0 {
		lr.pattern = r.str(patl)
	}
	if err := r.done(); err != nil {
		return listReq{}, err
	}
	if lr.path == "" {
		return listReq{}, fail(ErrInvalidArg)
	}
	return lr, nil
}

// The per-entry size OVT reserves (VixToolsGetFileExtendedInfoLength)
// decides where a listing is cut, so it is reproduced.
const (
	fxiFormat   = "<fxi><Name>%s</Name><ft>%d</ft><fs>%lu</fs><mt>%lu</mt><at>%lu</at><uid>%d</uid><gid>%d</gid><perm>%d</perm><slt>%s</slt></fxi>"
	fxiReserve  = len(fxiFormat) + 2 + 10 + 20 + 20*2 + 10*3
	listReserve = 3 + len("<rem>%d</rem>") + 10
)

type named struct {
	name string
	fi   *files.FileInfo
}

// listFiles (177): "." and ".." and the directory's entries sorted by
// name (or the one file the path names), those matching the pattern,
// from index+offset, at most maxResults; "<rem>N</rem>" tells how many
// remain. maxResults 0 lists none and reports them all remaining.
func (s *Server) listFiles(ctx context.Context, req *request, _ string) ([]byte, error) {
	lr, err := parseListReq(req)
	if err != nil {
		return nil, err
	}
	if lr.offset >= math.MaxInt32 || lr.index < 0 || lr.maxResults < 0 ||
		(lr.maxResults > 0 && lr.offset >= uint64(lr.maxResults)) {
		return nil, fail(ErrInvalidArg)
	}
	var re *regexp.Regexp
	if lr.pattern != "" {
		if re, err = regexp.Compile(lr.pattern); err != nil {
			return nil, errorf(ErrInvalidArg, "pattern %q: %w", lr.pattern, err)
		}
	}
	list, err := s.listNames(ctx, lr.path)
	if err != nil {
		return nil, err
	}
	if re != nil {
		list = slices.DeleteFunc(list, func(n named) bool { return !re.MatchString(n.name) })
	}
	start := int64(lr.index) + int64(lr.offset)
	var remaining int64
	var out []byte
	if lr.maxResults == 0 {
		remaining = max(int64(len(list))-int64(lr.index), 0)
	} else {
		size, count, maxOff := listReserve, int64(0), int64(lr.maxResults)-int64(lr.offset)
		for i := start; i < int64(len(list)); i++ {
			size += fxiReserve + len(escape(list[i].name)) + len(escape(list[i].fi.Link))
			if size >= maxResult {
				remaining = int64(len(list)) - i
				break
			}
			out = appendFXI(out, list[i].name, list[i].fi)
			if count++; count == maxOff {
				remaining = int64(len(list)) - i - 1
				break
			}
		}
	}
	return append(fmt.Appendf(nil, "<rem>%d</rem>", remaining), out...), nil
}

// listNames lists a directory (not through a symlink) with "." and
// "..", or names the one file the path is.
func (s *Server) listNames(ctx context.Context, p string) ([]named, error) {
	fi, err := s.fc.Lstat(ctx, p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []named{{p, fi}}, nil
	}
	ents, err := s.fc.List(ctx, p)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ents, func(a, b files.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	out := make([]named, 0, len(ents)+2)
	out = append(out, named{".", fi})
	if up, err := s.fc.Lstat(ctx, strings.TrimRight(p, "/")+"/.."); err == nil {
		out = append(out, named{"..", up})
	}
	for i := range ents {
		out = append(out, named{ents[i].Name, &ents[i]})
	}
	return out, nil
}

// appendFXI renders one entry (fileExtendedInfoLinuxFormatString):
// ft 1 for a directory, 2 for a symlink; the size of a regular file;
// <perm> is st_mode; <at> is the modification time.
func appendFXI(b []byte, name string, fi *files.FileInfo) []byte {
	ft, size := 0, int64(0)
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		ft = 2
	case fi.IsDir():
		ft = 1
	case fi.Mode.IsRegular():
		size = fi.Size
	}
	mt := fi.ModTime.Unix()
	return fmt.Appendf(b, "<fxi><Name>%s</Name><ft>%d</ft><fs>%d</fs><mt>%d</mt><at>%d</at><uid>%d</uid><gid>%d</gid><perm>%d</perm><slt>%s</slt></fxi>",
		escape(name), ft, size, mt, mt, fi.UID, fi.GID, stMode(fi.Mode), escape(fi.Link))
}

// stMode is the POSIX st_mode of m.
func stMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		v |= 0o040000
	case m&fs.ModeSymlink != 0:
		v |= 0o120000
	case m&fs.ModeNamedPipe != 0:
		v |= 0o010000
	case m&fs.ModeSocket != 0:
		v |= 0o140000
	case m&fs.ModeCharDevice != 0:
		v |= 0o020000
	case m&fs.ModeDevice != 0:
		v |= 0o060000
	default:
		v |= 0o100000
	}
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// fromUnixPerm turns permission bits (with setuid, setgid, sticky) into
// an fs.FileMode.
func fromUnixPerm(p uint32) fs.FileMode {
	m := fs.FileMode(p & 0o777)
	if p&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if p&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if p&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
