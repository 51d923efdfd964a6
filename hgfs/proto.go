package hgfs

import (
	"encoding/binary"
	"time"
)

// Op is an HGFS operation code (hgfsProto.h HgfsOp).
type Op uint32

// Operation codes used by the server.
const (
	OpOpen             Op = 0
	OpRead             Op = 1
	OpWrite            Op = 2
	OpClose            Op = 3
	OpGetattrV2        Op = 15
	OpSetattrV2        Op = 16
	OpOpenV3           Op = 24
	OpReadV3           Op = 25
	OpWriteV3          Op = 26
	OpCloseV3          Op = 27
	OpCreateSessionV4  Op = 41
	OpDestroySessionV4 Op = 42
	// OpNewHeader in a packet's second word marks the version 4 header.
	OpNewHeader Op = 0xff
)

// Status is an HGFS reply status (hgfs.h HgfsStatus).
type Status uint32

// Statuses.
const (
	StatusSuccess               Status = 0
	StatusNoSuchFileOrDir       Status = 1
	StatusInvalidHandle         Status = 2
	StatusOperationNotPermitted Status = 3
	StatusFileExists            Status = 4
	StatusNotDirectory          Status = 5
	StatusDirNotEmpty           Status = 6
	StatusProtocolError         Status = 7
	StatusAccessDenied          Status = 8
	StatusInvalidName           Status = 9
	StatusGenericError          Status = 10
	StatusSharingViolation      Status = 11
	StatusNoSpace               Status = 12
	StatusOperationNotSupported Status = 13
	StatusNameTooLong           Status = 14
	StatusInvalidParameter      Status = 15
	StatusNotSameDevice         Status = 16
	StatusStaleSession          Status = 17
	StatusTooManySessions       Status = 18
	StatusTransportError        Status = 19
)

// Packet size limits (hgfs.h).
const (
	// PacketMax is the largest packet of the legacy operations.
	PacketMax = 6144
	// HeaderSizeMax is the largest header a packet may declare.
	HeaderSizeMax = 2048
	// LegacyLargePacketMax is the large-packet maximum of older tools
	// (15 pages of I/O plus the header allowance): 0xF800.
	LegacyLargePacketMax = 15*4096 + HeaderSizeMax
	// LargePacketMax is the current large-packet maximum (127 pages of
	// I/O plus the header allowance): 0x7F800. No packet may exceed it.
	LargePacketMax = 127*4096 + HeaderSizeMax
)

// Sizes of the fixed structures.
const (
	headerSize       = 52  // HgfsHeader
	legacyHeaderSize = 8   // HgfsRequest / HgfsReply
	attrV2Size       = 104 // HgfsAttrV2
)

// Header version and packet flags of the version 4 header.
const (
	headerVersion   = 1
	packetFlagReply = 1 << 1
)

// Open modes (HgfsOpenMode).
const (
	OpenModeReadOnly  = 0
	OpenModeWriteOnly = 1
	OpenModeReadWrite = 2
)

// Open flags (HgfsOpenFlags): what to do when the file does or does not
// exist.
const (
	OpenFlagOpen        = 0 // must exist
	OpenFlagOpenEmpty   = 1 // must exist; truncated
	OpenFlagCreate      = 2 // created if missing
	OpenFlagCreateSafe  = 3 // must not exist
	OpenFlagCreateEmpty = 4 // created if missing; truncated
)

// Open request valid-field mask bits (HgfsOpenValid).
const (
	openValidMode         = 1 << 0
	openValidFlags        = 1 << 1
	openValidSpecialPerms = 1 << 2
	openValidOwnerPerms   = 1 << 3
	openValidGroupPerms   = 1 << 4
	openValidOtherPerms   = 1 << 5
)

// Attribute valid-field mask bits (HgfsAttrValid).
const (
	AttrValidType         = 1 << 0
	AttrValidSize         = 1 << 1
	AttrValidCreateTime   = 1 << 2
	AttrValidAccessTime   = 1 << 3
	AttrValidWriteTime    = 1 << 4
	AttrValidChangeTime   = 1 << 5
	AttrValidSpecialPerms = 1 << 6
	AttrValidOwnerPerms   = 1 << 7
	AttrValidGroupPerms   = 1 << 8
	AttrValidOtherPerms   = 1 << 9
	AttrValidFlags        = 1 << 10
	AttrValidAllocSize    = 1 << 11
	AttrValidUserID       = 1 << 12
	AttrValidGroupID      = 1 << 13
	AttrValidFileID       = 1 << 14
)

// File types (HgfsFileType).
const (
	FileTypeRegular   = 0
	FileTypeDirectory = 1
	FileTypeSymlink   = 2
)

// Hints and flags.
const (
	attrHintUseFileDesc = 1 << 2 // HGFS_ATTR_HINT_USE_FILE_DESC
	fileNameUseFileDesc = 1 << 0 // HGFS_FILE_NAME_USE_FILE_DESC
	writeAppend         = 1      // HGFS_WRITE_APPEND
	sessionMaxPacketOK  = 1 << 0 // HGFS_SESSION_MAXPACKETSIZE_VALID
	opCapSupported      = 1 << 0 // HGFS_OP_CAPFLAG_IS_SUPPORTED
	invalidHandle       = ^uint32(0)
)

// ntEpochDelta is 1970-01-01 in 100 ns units since 1601-01-01, the
// epoch of HGFS times.
const ntEpochDelta = 116444736000000000

// toNT converts t to Windows NT time.
func toNT(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano()/100 + ntEpochDelta)
}

// fromNT converts Windows NT time to a time.Time.
func fromNT(v uint64) time.Time {
	if v < ntEpochDelta {
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(0, int64(v-ntEpochDelta)*100).UTC()
}

// decoder reads little-endian fields, remembering the first short read
// instead of panicking; every caller checks ok() before using values.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) ok() bool { return !d.bad }

// name reads an HgfsFileName: a length, then that many bytes of
// cross-platform name (no NUL counted).
func (d *decoder) name() string {
	n := d.u32()
	if n > PacketMax*128 {
		d.bad = true
		return ""
	}
	return string(d.take(int(n)))
}

// nameV3 reads an HgfsFileNameV3: length, flags, case type, handle, name.
func (d *decoder) nameV3() (name string, flags, fid uint32) {
	n := d.u32()
	flags = d.u32()
	d.u32() // case type
	fid = d.u32()
	if n > PacketMax*128 {
		d.bad = true
		return "", 0, 0
	}
	return string(d.take(int(n))), flags, fid
}

// encoder helpers.
func put32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func put64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// putName appends an HgfsFileName with a trailing NUL (not counted).
func putName(b []byte, name string) []byte {
	b = put32(b, uint32(len(name)))
	b = append(b, name...)
	return append(b, 0)
}
