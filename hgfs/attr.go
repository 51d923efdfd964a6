package hgfs

import (
	"io/fs"
	"net/url"
)

// urlHandler is a resolved name.
type urlHandler struct {
	u *url.URL
	h FileHandler
}

// attrV2 holds the decoded fields of HgfsAttrV2 that SetattrV2 uses.
type attrV2 struct {
	mask                         uint64
	size                         uint64
	atime, wtime                 uint64
	special, owner, group, other uint8
	uid, gid                     uint32
}

func decodeAttrV2(d *decoder) attrV2 {
	var a attrV2
	a.mask = d.u64()
	d.u32() // type
	a.size = d.u64()
	d.u64() // creation time
	a.atime = d.u64()
	a.wtime = d.u64()
	d.u64() // attribute change time
	a.special, a.owner, a.group, a.other = d.u8(), d.u8(), d.u8(), d.u8()
	d.u64() // flags
	d.u64() // allocation size
	a.uid, a.gid = d.u32(), d.u32()
	d.u64() // host file id
	d.u32() // volume id
	d.u32() // effective permissions
	d.u64() // reserved
	return a
}

// appendAttrV2 encodes fi as HgfsAttrV2.
func appendAttrV2(b []byte, fi fs.FileInfo) []byte {
	typ := uint32(FileTypeRegular)
	switch {
	case fi.IsDir():
		typ = FileTypeDirectory
	case fi.Mode()&fs.ModeSymlink != 0:
		typ = FileTypeSymlink
	}
	uid, gid, ino, atime := sysAttrs(fi)
	mask := uint64(AttrValidType | AttrValidSize | AttrValidAccessTime | AttrValidWriteTime | AttrValidChangeTime |
		AttrValidSpecialPerms | AttrValidOwnerPerms | AttrValidGroupPerms | AttrValidOtherPerms | AttrValidAllocSize)
	if uid >= 0 {
		mask |= AttrValidUserID | AttrValidGroupID | AttrValidFileID
	}
	if atime.IsZero() {
		atime = fi.ModTime()
	}
	special, owner, group, other := modeToPerms(fi.Mode())
	size := max(fi.Size(), 0)
	b = put64(b, mask)
	b = put32(b, typ)
	b = put64(b, uint64(size))
	b = put64(b, toNT(fi.ModTime())) // creation: POSIX has none
	b = put64(b, toNT(atime))
	b = put64(b, toNT(fi.ModTime()))
	b = put64(b, toNT(fi.ModTime()))
	b = append(b, special, owner, group, other)
	b = put64(b, 0) // flags
	b = put64(b, uint64(size))
	b = put32(b, uint32(max(uid, 0)))
	b = put32(b, uint32(max(gid, 0)))
	b = put64(b, ino)
	b = put32(b, 0) // volume id
	b = put32(b, 0) // effective permissions
	return put64(b, 0)
}

// modeToPerms splits a mode into HGFS permission triplets.
func modeToPerms(m fs.FileMode) (special, owner, group, other uint8) {
	if m&fs.ModeSetuid != 0 {
		special |= 4
	}
	if m&fs.ModeSetgid != 0 {
		special |= 2
	}
	if m&fs.ModeSticky != 0 {
		special |= 1
	}
	p := m.Perm()
	return special, uint8(p>>6) & 7, uint8(p>>3) & 7, uint8(p) & 7
}

// permsToMode joins HGFS permission triplets into a mode.
func permsToMode(special, owner, group, other uint8) fs.FileMode {
	m := fs.FileMode(owner&7)<<6 | fs.FileMode(group&7)<<3 | fs.FileMode(other&7)
	if special&4 != 0 {
		m |= fs.ModeSetuid
	}
	if special&2 != 0 {
		m |= fs.ModeSetgid
	}
	if special&1 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
