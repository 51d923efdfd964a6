package hgfs

import (
	"errors"
	"fmt"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
	"io/fs"
	"syscall"
)

// request is a parsed packet.
type request struct {
	id      uint32
	op      Op
	session uint64
	v4      bool   // version 4 header
	prefix  bool   // HgfsRequest/HgfsReply words around the body
	body    []byte // the operation's fields
}

// statusError carries an HGFS status out of an operation.
type statusError struct {
	st  Status
	err error
}

func (e *statusError) Error() string { return fmt.Sprintf("hgfs: status %d: %v", e.st, e.err) }
func (e *statusError) Unwrap() error { return e.err }

func failf(st Status, format string, args ...any) error {
	return &statusError{st: st, err: fmt.Errorf(format, args...)}
}

// errBadPacket is a field that runs past the end of the packet.
var errBadPacket = errors.New("hgfs: packet too short for its fields")

// parse splits a packet into its header and body, checking every
// length against the packet and the protocol's maxima.
func parse(p []byte) (request, error) {
	req := request{prefix: true}
	if len(p) < legacyHeaderSize {
		return req, fmt.Errorf("%w: %d bytes", errBadPacket, len(p))
	}
	d := decoder{b: p}
	req.id = d.u32()
	req.op = Op(d.u32())
	if req.op == OpNewHeader {
		req.v4, req.prefix, req.id, req.op = true, false, 0, 0
		if len(p) < headerSize {
			return req, fmt.Errorf("%w: version 4 header in %d bytes", errBadPacket, len(p))
		}
		d = decoder{b: p[8:]}
		packetSize, hdrSize := d.u32(), d.u32()
		req.id, req.op = d.u32(), Op(d.u32())
		d.u32() // status
		d.u32() // flags
		d.u32() // information
		req.session = d.u64()
		if hdrSize < headerSize || hdrSize > HeaderSizeMax || packetSize < hdrSize || int64(packetSize) > int64(len(p)) {
			return req, fmt.Errorf("%w: header size %d, packet size %d in %d bytes", errBadPacket, hdrSize, packetSize, len(p))
		}
		p = p[:packetSize]
		req.body = p[hdrSize:]
		if req.op < OpOpenV3 {
			// Operations older than V3 keep their own HgfsRequest words
			// after the new header.
			req.prefix = true
			if len(req.body) < legacyHeaderSize {
				return req, fmt.Errorf("%w: no request words after the header", errBadPacket)
			}
			req.body = req.body[legacyHeaderSize:]
		}
	} else {
		req.prefix = true
		req.body = p[legacyHeaderSize:]
	}
	limit := LargePacketMax
	if req.op < OpOpenV3 {
		limit = PacketMax
	}
	if len(p) > limit {
		return req, fmt.Errorf("%w: %d-byte packet for op %d exceeds %d", errBadPacket, len(p), req.op, limit)
	}
	return req, nil
}

// encodeReply builds the reply packet in the request's format.
func encodeReply(req request, st Status, body []byte) []byte {
	if st != StatusSuccess {
		body = nil
	}
	n := len(body)
	if req.prefix {
		n += legacyHeaderSize
	}
	var b []byte
	if req.v4 {
		b = make([]byte, 0, headerSize+n)
		b = append(b, headerVersion, 0, 0, 0)
		b = put32(b, uint32(OpNewHeader))
		b = put32(b, uint32(headerSize+n))
		b = put32(b, headerSize)
		b = put32(b, req.id)
		b = put32(b, uint32(req.op))
		b = put32(b, uint32(st))
		b = put32(b, packetFlagReply)
		b = put32(b, 0) // information
		b = put64(b, req.session)
		b = put64(b, 0) // reserved
	} else {
		b = make([]byte, 0, n)
	}
	if req.prefix {
		b = put32(b, req.id)
		b = put32(b, uint32(st))
	}
	return append(b, body...)
}

// statusOf maps an error to the HGFS status that describes it.
func statusOf(err error) Status {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.st
	case errors.Is(err, errBadPacket):
		return StatusProtocolError
	case rpc.CodeOf(err) == rpc.PermissionDenied:
		return StatusAccessDenied // the file policy refused
	case errors.Is(err, files.ErrNotRegular):
		return StatusAccessDenied
	case errors.Is(err, syscall.ENOTDIR):
		return StatusNotDirectory
	case errors.Is(err, syscall.ENOTEMPTY):
		return StatusDirNotEmpty
	case errors.Is(err, fs.ErrNotExist):
		return StatusNoSuchFileOrDir
	case errors.Is(err, fs.ErrExist):
		return StatusFileExists
	case errors.Is(err, syscall.EPERM):
		return StatusOperationNotPermitted
	case errors.Is(err, fs.ErrPermission):
		return StatusAccessDenied
	case errors.Is(err, syscall.ENOSPC):
		return StatusNoSpace
	case errors.Is(err, syscall.ENAMETOOLONG):
		return StatusNameTooLong
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EISDIR):
		return StatusInvalidParameter
	case errors.Is(err, errors.ErrUnsupported):
		return StatusOperationNotSupported
	}
	return StatusGenericError
}
