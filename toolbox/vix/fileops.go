package vix

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// props takes a property list of n bytes and checks it.
func (r *reader) props(n uint32) {
	b := r.take(uint64(n))
	if !r.bad {
		if _, ok := ParsePropertyList(b); !ok {
			r.bad = true
		}
	}
}

// createTemp (181, 182): i32 options; u32 prefixLen, suffixLen,
// dirLen, propLen; then the strings and the property list. file.mktemp
// makes it; the reply is its path. The name is prefix, random, suffix:
// the pattern prefix+"*"+suffix, so a suffix may not hold a "*".
func (s *Server) createTemp(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 20)
	if err != nil {
		return nil, err
	}
	r.i32()
	pl, sl, dl, ppl := r.u32(), r.u32(), r.u32(), r.u32()
	prefix, suffix, dir := r.str(pl), r.str(sl), r.str(dl)
	r.props(ppl)
	if err := r.done(); err != nil {
		return nil, err
	}
	if strings.Contains(suffix, "*") {
		return nil, fail(ErrInvalidArg)
	}
	create := s.fc.CreateTemp
	if req.OpCode == OpCreateTempDir {
		create = s.fc.MkdirTemp
	}
	p, err := create(ctx, dir, prefix+"*"+suffix)
	if err != nil {
		return nil, err
	}
	return []byte(p), nil
}

// pathOnly reads "i32 options, u32 pathLen" and the path (194).
func pathOnly(req *request) (string, error) {
	r, err := body(req, 8)
	if err != nil {
		return "", err
	}
	r.i32()
	p := r.str(r.u32())
	if err := r.done(); err != nil {
		return "", err
	}
	if p == "" {
		return "", fail(ErrInvalidArg)
	}
	return p, nil
}

// deleteFile (194) removes a file or symlink; a directory is NOT_A_FILE.
func (s *Server) deleteFile(ctx context.Context, req *request, _ string) ([]byte, error) {
	p, err := pathOnly(req)
	if err != nil {
		return nil, err
	}
	fi, err := s.fc.Lstat(ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fail(ErrNotAFile)
	}
	return nil, s.fc.Remove(ctx, p)
}

// dirReq reads "i32, u32 pathLen, u32 propLen, u8 flag", the path and
// the property list (178, 195).
func dirReq(req *request) (string, bool, error) {
	r, err := body(req, 13)
	if err != nil {
		return "", false, err
	}
	r.i32()
	pl, ppl, flag := r.u32(), r.u32(), r.u8()
	p := r.str(pl)
	r.props(ppl)
	if err := r.done(); err != nil {
		return "", false, err
	}
	if p == "" {
		return "", false, fail(ErrInvalidArg)
	}
	return p, flag != 0, nil
}

// deleteDir (195) removes a directory, its contents when recursive.
func (s *Server) deleteDir(ctx context.Context, req *request, _ string) ([]byte, error) {
	p, recursive, err := dirReq(req)
	if err != nil {
		return nil, err
	}
	fi, err := s.fc.Lstat(ctx, p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fail(ErrNotADir)
	}
	if recursive {
		err = s.fc.RemoveAll(ctx, p)
	} else {
		err = s.fc.Remove(ctx, p)
	}
	if rpc.CodeOf(err) == rpc.FailedPrecondition {
		return nil, &vixErr{code: ErrDirNotEmpty, err: err}
	}
	return nil, err
}

// createDir (178) makes a directory, its parents when asked.
func (s *Server) createDir(ctx context.Context, req *request, _ string) ([]byte, error) {
	p, parents, err := dirReq(req)
	if err != nil {
		return nil, err
	}
	if _, err := s.fc.Lstat(ctx, p); err == nil {
		return nil, fail(ErrFileExists)
	}
	if parents {
		return nil, s.fc.MkdirAll(ctx, p, 0o755)
	}
	return nil, s.fc.Mkdir(ctx, p, 0o755)
}

// move (179, 180): i32, u32 oldLen, newLen, propLen, u8 overwrite; the
// two paths and the property list. Checks as VixToolsMoveObject.
func (s *Server) move(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 17)
	if err != nil {
		return nil, err
	}
	r.i32()
	ol, nl, ppl, overwrite := r.u32(), r.u32(), r.u32(), r.u8() != 0
	from, to := r.str(ol), r.str(nl)
	r.props(ppl)
	if err := r.done(); err != nil {
		return nil, err
	}
	if from == "" || to == "" {
		return nil, fail(ErrInvalidArg)
	}
	src, err := s.fc.Lstat(ctx, from)
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, nil
	}
	dst, derr := s.fc.Lstat(ctx, to)
	if derr == nil && dst.IsDir() {
		return nil, fail(ErrFileExists)
	}
	if req.OpCode == OpMoveFileEx {
		if src.IsDir() {
			return nil, fail(ErrNotAFile)
		}
	} else {
		if !src.IsDir() {
			return nil, fail(ErrNotADir)
		}
		overwrite = false
	}
	if derr == nil && !overwrite {
		return nil, fail(ErrFileExists)
	}
	return nil, s.fc.Rename(ctx, from, to)
}

// setAttributes (183): i32 flags, i64 atime, i64 mtime, i32 uid,
// i32 gid, i32 perms, u8 hidden, u8 readOnly, u32 pathLen; the path.
// Each flagged attribute goes through file.chtimes, file.chown or
// file.chmod; hidden means nothing on POSIX.
func (s *Server) setAttributes(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 38)
	if err != nil {
		return nil, err
	}
	flags, at, mt := r.i32(), r.i64(), r.i64()
	uid, gid, perms := r.i32(), r.i32(), r.i32()
	r.u8()
	readOnly := r.u8() != 0
	p := r.str(r.u32())
	if err := r.done(); err != nil {
		return nil, err
	}
	if p == "" {
		return nil, fail(ErrInvalidArg)
	}
	fi, err := s.fc.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	const (
		setAtime, setMtime, setRO, setUID, setGID, setPerms = 1, 2, 4, 0x10, 0x20, 0x40
	)
	if flags&(setAtime|setMtime) != 0 {
		var a, m time.Time
		if flags&setAtime != 0 {
			a = time.Unix(at, 0)
		}
		if flags&setMtime != 0 {
			m = time.Unix(mt, 0)
		}
		if err := s.fc.Chtimes(ctx, p, a, m); err != nil {
			return nil, err
		}
	}
	if flags&(setUID|setGID) != 0 {
		u, g := -1, -1
		if flags&setUID != 0 {
			u = int(uid)
		}
		if flags&setGID != 0 {
			g = int(gid)
		}
		if err := s.fc.Chown(ctx, p, u, g); err != nil {
			return nil, err
		}
	}
	mode, chmod := fi.Mode, false
	if flags&setPerms != 0 {
		mode, chmod = fromUnixPerm(uint32(perms)), true
	}
	if flags&setRO != 0 {
		chmod = true
		if readOnly {
			mode &^= 0o200
		} else {
			mode |= 0o200
		}
	}
	if chmod {
		return nil, s.fc.Chmod(ctx, p, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	return nil, nil
}

// transferFrom (188, laid out as ListFiles): the file's <fxi>, named
// by its path; the host then reads it with HGFS packets.
func (s *Server) transferFrom(ctx context.Context, req *request, _ string) ([]byte, error) {
	lr, err := parseListReq(req)
	if err != nil {
		return nil, err
	}
	if pio, b, name, ok := s.ioFor(lr.path); ok {
		if name == "stdin" {
			return nil, fail(ErrAccess)
		}
		fi := ioInfo(ctx, pio, b, name)
		return appendFXI(nil, lr.path, &files.FileInfo{Name: name, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}), nil
	}
	fi, err := s.fc.Lstat(ctx, lr.path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fail(ErrNotAFile)
	}
	return appendFXI(nil, lr.path, fi), nil
}

// transferTo (189): i32 options, u32 pathLen, u8 overwrite; the path.
// The target must not be a directory, nor exist unless overwrite; the
// host then writes it with HGFS packets.
func (s *Server) transferTo(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 9)
	if err != nil {
		return nil, err
	}
	r.i32()
	pl, overwrite := r.u32(), r.u8() != 0
	p := r.str(pl)
	if err := r.done(); err != nil {
		return nil, err
	}
	if p == "" {
		return nil, fail(ErrInvalidArg)
	}
	if _, _, name, ok := s.ioFor(p); ok {
		if name != "stdin" {
			return nil, fail(ErrAccess)
		}
		return nil, nil
	}
	fi, err := s.fc.Lstat(ctx, p)
	switch {
	case err == nil && fi.IsDir():
		return nil, fail(ErrNotAFile)
	case err == nil && !overwrite:
		return nil, fail(ErrFileExists)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	return nil, nil
}

// hgfsPacket (84): u32 packetSize, i32 timeout, the packet. The reply
// is the HGFS service's reply packet (hgfs.packet, its sessions and
// handles those of the agent connection).
func (s *Server) hgfsPacket(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 8)
	if err != nil {
		return nil, err
	}
	n := r.u32()
	r.i32()
	packet := r.take(uint64(n))
	if err := r.done(); err != nil {
		return nil, err
	}
	return s.hc.Do(ctx, packet)
}
