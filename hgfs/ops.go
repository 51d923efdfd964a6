package hgfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// handle runs one operation and returns the reply body.
func (c *Conn) handle(ctx context.Context, req *request) ([]byte, error) {
	d := &decoder{b: req.body}
	if req.op == OpCreateSessionV4 {
		return c.createSession(d)
	}
	if err := c.checkSession(req); err != nil {
		return nil, err
	}
	switch req.op {
	case OpDestroySessionV4:
		d.u64()
		if !d.ok() {
			return nil, errBadPacket
		}
		if err := c.destroySession(req.session); err != nil {
			return nil, err
		}
		return put64(nil, 0), nil
	case OpOpen:
		mode, flags, perms := d.u32(), d.u32(), d.u8()
		name := d.name()
		if !d.ok() {
			return nil, errBadPacket
		}
		perm := fs.FileMode(perms&7) << 6
		h, err := c.open(ctx, req, name, OpenRequest{Mode: int(mode), Flags: int(flags), Perm: perm})
		if err != nil {
			return nil, err
		}
		return put32(nil, h), nil
	case OpOpenV3:
		return c.openV3(ctx, req, d)
	case OpReadV3:
		return c.readV3(ctx, req, d)
	case OpWriteV3:
		return c.writeV3(ctx, req, d)
	case OpClose, OpCloseV3:
		h := d.u32()
		if req.op == OpCloseV3 {
			d.u64()
		}
		if !d.ok() {
			return nil, errBadPacket
		}
		of, err := c.removeFile(req, h)
		if err != nil {
			return nil, err
		}
		if err := c.closeFile(of); err != nil {
			return nil, err
		}
		if req.op == OpCloseV3 {
			return put64(nil, 0), nil
		}
		return nil, nil
	case OpGetattrV2:
		return c.getattrV2(ctx, req, d)
	case OpSetattrV2:
		return nil, c.setattrV2(ctx, req, d)
	}
	return nil, failf(StatusOperationNotSupported, "op %d", req.op)
}

// supportedOps are announced in CreateSessionV4.
func supportedOps() []Op {
	return []Op{OpOpen, OpClose, OpGetattrV2, OpSetattrV2, OpOpenV3, OpReadV3, OpWriteV3, OpCloseV3, OpCreateSessionV4, OpDestroySessionV4}
}

func (c *Conn) createSession(d *decoder) ([]byte, error) {
	ncaps, maxPacket := d.u32(), d.u32()
	d.u32() // flags
	d.u32() // reserved
	if !d.ok() || uint64(ncaps)*8 > uint64(len(d.b)) {
		return nil, errBadPacket
	}
	id, err := c.newSession()
	if err != nil {
		return nil, err
	}
	offer := c.s.maxPacket
	if maxPacket >= PacketMax && maxPacket < offer {
		offer = maxPacket
	}
	ops := supportedOps()
	b := put64(nil, id)
	b = put32(b, uint32(len(ops)))
	b = put32(b, offer)
	b = put32(b, 0) // no identity
	b = put32(b, sessionMaxPacketOK)
	b = put32(b, 0)
	for _, op := range ops {
		b = put32(b, uint32(op))
		b = put32(b, opCapSupported)
	}
	return b, nil
}

func (c *Conn) open(ctx context.Context, req *request, name string, or OpenRequest) (uint32, error) {
	u, h, err := c.s.resolve(name)
	if err != nil {
		return 0, err
	}
	if or.Mode < OpenModeReadOnly || or.Mode > OpenModeReadWrite {
		return 0, failf(StatusInvalidParameter, "open %s: mode %d", u, or.Mode)
	}
	if or.Flags < OpenFlagOpen || or.Flags > OpenFlagCreateEmpty {
		return 0, failf(StatusInvalidParameter, "open %s: flags %d", u, or.Flags)
	}
	if or.Perm == 0 {
		or.Perm = 0o644
	}
	f, err := h.Open(ctx, u, or)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", u, err)
	}
	handle, err := c.addFile(&openFile{f: f, u: u, h: h, session: req.session})
	if err != nil {
		f.Close()
		return 0, err
	}
	return handle, nil
}

func (c *Conn) openV3(ctx context.Context, req *request, d *decoder) ([]byte, error) {
	mask, mode, flags := d.u64(), d.u32(), d.u32()
	special, owner, group, other := d.u8(), d.u8(), d.u8(), d.u8()
	d.u64() // attributes
	d.u64() // allocation size
	d.u32() // desired access
	d.u32() // share access
	d.u32() // desired lock
	d.u64() // reserved
	d.u64() // reserved
	name, nflags, _ := d.nameV3()
	if !d.ok() {
		return nil, errBadPacket
	}
	if nflags&fileNameUseFileDesc != 0 {
		return nil, failf(StatusInvalidParameter, "open by handle is not supported")
	}
	or := OpenRequest{Mode: OpenModeReadOnly, Flags: OpenFlagOpen}
	if mask&openValidMode != 0 {
		or.Mode = int(mode)
	}
	if mask&openValidFlags != 0 {
		or.Flags = int(flags)
	}
	if mask&(openValidOwnerPerms|openValidGroupPerms|openValidOtherPerms|openValidSpecialPerms) != 0 {
		or.Perm = permsToMode(special, owner, group, other)
	}
	h, err := c.open(ctx, req, name, or)
	if err != nil {
		return nil, err
	}
	b := put32(nil, h)
	b = put32(b, 0) // no lock acquired
	b = put32(b, 0) // reply flags
	return put32(b, 0), nil
}

// maxIO is the largest read or write payload that fits a packet.
func (s *Service) maxIO() int {
	return int(s.maxPacket) - headerSize - legacyHeaderSize - 12
}

func (c *Conn) readV3(ctx context.Context, req *request, d *decoder) ([]byte, error) {
	h, off, size := d.u32(), d.u64(), d.u32()
	d.u64()
	if !d.ok() {
		return nil, errBadPacket
	}
	if off > 1<<62 {
		return nil, failf(StatusInvalidParameter, "read at offset %d", off)
	}
	of, err := c.file(req, h)
	if err != nil {
		return nil, err
	}
	n := min(int(size), c.s.maxIO())
	b := make([]byte, 12+n)
	of.mu.Lock()
	got, err := of.readAt(ctx, b[12:], int64(off))
	of.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", of.u, err)
	}
	put32(b[:0], uint32(got))
	return b[:12+got], nil
}

func (of *openFile) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	if ra, ok := of.f.(io.ReaderAt); ok {
		n, err := ra.ReadAt(p, off)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return n, err
	}
	if off != of.pos {
		return 0, failf(StatusInvalidParameter, "read at %d of a stream at %d", off, of.pos)
	}
	n, err := readFull(ctx, of.f, p)
	of.pos += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

// ctxReader and ctxWriter are Files whose sequential reads and writes
// wait for something other than the disk, and give up with ctx.
type ctxReader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

type ctxWriter interface {
	WriteContext(ctx context.Context, p []byte) (int, error)
}

// readFull is io.ReadFull that stops when ctx ends.
func readFull(ctx context.Context, f File, p []byte) (int, error) {
	cr, ok := f.(ctxReader)
	if !ok {
		return io.ReadFull(f, p)
	}
	n := 0
	for n < len(p) {
		m, err := cr.ReadContext(ctx, p[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

func (c *Conn) writeV3(ctx context.Context, req *request, d *decoder) ([]byte, error) {
	h, flags, off, size := d.u32(), d.u8(), d.u64(), d.u32()
	d.u64()
	data := d.take(int(size))
	if !d.ok() {
		return nil, errBadPacket
	}
	if off > 1<<62 {
		return nil, failf(StatusInvalidParameter, "write at offset %d", off)
	}
	of, err := c.file(req, h)
	if err != nil {
		return nil, err
	}
	of.mu.Lock()
	n, err := of.writeAt(ctx, data, int64(off), flags&writeAppend != 0)
	of.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", of.u, err)
	}
	b := put32(nil, uint32(n))
	return put64(b, 0), nil
}

func (of *openFile) writeAt(ctx context.Context, p []byte, off int64, appendMode bool) (int, error) {
	if appendMode {
		if sk, ok := of.f.(io.Seeker); ok {
			if _, err := sk.Seek(0, io.SeekEnd); err != nil {
				return 0, err
			}
		}
		return of.f.Write(p)
	}
	if wa, ok := of.f.(io.WriterAt); ok {
		return wa.WriteAt(p, off)
	}
	if off != of.pos {
		return 0, failf(StatusInvalidParameter, "write at %d of a stream at %d", off, of.pos)
	}
	var n int
	var err error
	if cw, ok := of.f.(ctxWriter); ok {
		n, err = cw.WriteContext(ctx, p)
	} else {
		n, err = of.f.Write(p)
	}
	of.pos += int64(n)
	return n, err
}

// statter is a File that describes itself.
type statter interface{ Stat() (fs.FileInfo, error) }

func (c *Conn) getattrV2(ctx context.Context, req *request, d *decoder) ([]byte, error) {
	hints, h := d.u64(), d.u32()
	name := d.name()
	if !d.ok() {
		return nil, errBadPacket
	}
	var fi fs.FileInfo
	var err error
	if hints&attrHintUseFileDesc != 0 {
		of, ferr := c.file(req, h)
		if ferr != nil {
			return nil, ferr
		}
		if st, ok := of.f.(statter); ok {
			fi, err = st.Stat()
		} else {
			fi, err = of.h.Stat(ctx, of.u)
		}
	} else {
		u, fh, rerr := c.s.resolve(name)
		if rerr != nil {
			return nil, rerr
		}
		fi, err = fh.Stat(ctx, u)
	}
	if err != nil {
		return nil, fmt.Errorf("getattr: %w", err)
	}
	b := appendAttrV2(nil, fi)
	return putName(b, ""), nil
}

func (c *Conn) setattrV2(ctx context.Context, req *request, d *decoder) error {
	hints := d.u64()
	a := decodeAttrV2(d)
	h := d.u32()
	name := d.name()
	if !d.ok() {
		return errBadPacket
	}
	var u = (*urlHandler)(nil)
	if hints&attrHintUseFileDesc != 0 {
		of, err := c.file(req, h)
		if err != nil {
			return err
		}
		u = &urlHandler{of.u, of.h}
	} else {
		pu, fh, err := c.s.resolve(name)
		if err != nil {
			return err
		}
		u = &urlHandler{pu, fh}
	}
	sa, ok := u.h.(Setattrer)
	if !ok {
		return failf(StatusOperationNotSupported, "setattr %s: the handler cannot change attributes", u.u)
	}
	var attr Attr
	if a.mask&AttrValidSize != 0 {
		size := int64(a.size)
		if size < 0 {
			return failf(StatusInvalidParameter, "setattr %s: size %d", u.u, a.size)
		}
		attr.Size = &size
	}
	permBits := uint64(AttrValidSpecialPerms | AttrValidOwnerPerms | AttrValidGroupPerms | AttrValidOtherPerms)
	times := uint64(AttrValidAccessTime | AttrValidWriteTime)
	var cur fs.FileInfo
	if a.mask&(permBits|times) != 0 && a.mask&(permBits|times) != permBits|times {
		var err error
		if cur, err = u.h.Stat(ctx, u.u); err != nil {
			return fmt.Errorf("setattr %s: %w", u.u, err)
		}
	}
	if a.mask&permBits != 0 {
		m := a.mode(cur)
		attr.Mode = &m
	}
	if a.mask&AttrValidUserID != 0 {
		uid := int(a.uid)
		attr.UID = &uid
	}
	if a.mask&AttrValidGroupID != 0 {
		gid := int(a.gid)
		attr.GID = &gid
	}
	if a.mask&times != 0 {
		at, mt := timeOf(cur), timeOf(cur)
		if a.mask&AttrValidAccessTime != 0 {
			at = fromNT(a.atime)
		}
		if a.mask&AttrValidWriteTime != 0 {
			mt = fromNT(a.wtime)
		}
		attr.Atime, attr.Mtime = &at, &mt
	}
	if err := sa.Setattr(ctx, u.u, attr); err != nil {
		return fmt.Errorf("setattr %s: %w", u.u, err)
	}
	return nil
}

// mode is the mode the attributes set: their valid permission triplets
// over those of cur.
func (a attrV2) mode(cur fs.FileInfo) fs.FileMode {
	special, owner, group, other := modeToPerms(modeOf(cur))
	if a.mask&AttrValidSpecialPerms != 0 {
		special = a.special
	}
	if a.mask&AttrValidOwnerPerms != 0 {
		owner = a.owner
	}
	if a.mask&AttrValidGroupPerms != 0 {
		group = a.group
	}
	if a.mask&AttrValidOtherPerms != 0 {
		other = a.other
	}
	return permsToMode(special, owner, group, other)
}

func modeOf(fi fs.FileInfo) fs.FileMode {
	if fi == nil {
		return 0
	}
	return fi.Mode()
}

func timeOf(fi fs.FileInfo) time.Time {
	if fi == nil {
		return time.Now()
	}
	return fi.ModTime()
}
