package vix

import (
	"encoding/base64"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
)

// Property types (foundryPropertyListCommon.c).
const (
	PropInt    = 1
	PropString = 2
	PropBool   = 3
	PropInt64  = 5
	PropBlob   = 6
)

// Property ids of GetToolsState (vixOpenSource.h).
const (
	propTempDir        = 203
	propToolsVersion   = 4500
	propAPIOptions     = 4501
	propOSFamily       = 4502
	propOSVersion      = 4503
	propPackageList    = 4504
	propGuestName      = 4505
	propProductName    = 4511
	propWordSize       = 4519
	propOSVersionShort = 4520
)

// Property is one entry of a serialized property list.
type Property struct {
	ID    int32
	Type  int32
	Value []byte // INT: 4 bytes LE; STRING: with its NUL; BOOL: 1 byte
}

// appendProp serializes one property: i32 id, i32 type, i32 length,
// value.
func appendProp(b []byte, p Property) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(p.ID))
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Type))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Value)))
	return append(b, p.Value...)
}

func strProp(id int32, v string) Property {
	return Property{ID: id, Type: PropString, Value: append([]byte(v), 0)}
}

func intProp(id int32, v int32) Property {
	return Property{ID: id, Type: PropInt, Value: binary.LittleEndian.AppendUint32(nil, uint32(v))}
}

// maxProps bounds a decoded list.
const maxProps = 4096

// ParsePropertyList decodes a serialized property list, checking every
// length against the input and each type's size; it reports false for
// a malformed list.
func ParsePropertyList(b []byte) ([]Property, bool) {
	var out []Property
	for len(b) > 0 {
		if len(b) < 12 || len(out) == maxProps {
			return nil, false
		}
		id := int32(binary.LittleEndian.Uint32(b))
		typ := int32(binary.LittleEndian.Uint32(b[4:]))
		n := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		if uint64(n) > uint64(len(b)) || !validPropLen(typ, n, b[:n]) {
			return nil, false
		}
		out = append(out, Property{ID: id, Type: typ, Value: b[:n:n]})
		b = b[n:]
	}
	return out, true
}

func validPropLen(typ int32, n uint32, v []byte) bool {
	switch typ {
	case PropInt:
		return n == 4
	case PropBool:
		return n == 1
	case PropInt64:
		return n == 8
	case PropString:
		return n > 0 && indexNUL(v) == int(n)-1
	case PropBlob:
		return true
	}
	return false
}

// toolsState is GetToolsState's result: the base64 of the property
// list, in OVT's order (VixTools_GetToolsPropertiesImpl) without the
// power scripts, shared folders and per-API switches.
func (s *Server) toolsState() ([]byte, error) {
	var b []byte
	for _, p := range []Property{
		strProp(propOSVersion, s.opts.OSNameFull),
		strProp(propOSVersionShort, s.opts.OSName),
		strProp(propProductName, s.opts.Product),
		strProp(propToolsVersion, s.opts.Version),
		strProp(propGuestName, s.opts.GuestName),
		intProp(propAPIOptions, 1), // VIX_TOOLSFEATURE_SUPPORT_GET_HANDLE_STATE
		intProp(propOSFamily, 1),   // GUEST_OS_FAMILY_LINUX
		strProp(propPackageList, ""),
		strProp(propTempDir, os.TempDir()),
		intProp(propWordSize, int32(32<<(^uint(0)>>63))),
	} {
		b = appendProp(b, p)
	}
	return []byte(base64.StdEncoding.EncodeToString(b)), nil
}

// osNames reads the short and full OS names from os-release.
func osNames() (short, full string) {
	short, full = runtime.GOOS, runtime.GOOS
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			short = v
		case "PRETTY_NAME":
			full = v
		}
	}
	return
}
