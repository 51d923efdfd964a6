package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxRawJob caps a raw job's n: 1 TiB of bytes, or as many round trips.
const MaxRawJob = 1 << 40

// ErrRawJob reports a raw job header ServeRaw refuses.
var ErrRawJob = errors.New("bench: bad raw job")

// ServeRaw is the guest side of the raw virtio-serial floor (the guest
// program internal/bench/rawport): it reads and writes rw, a port, with
// no protocol beyond a 9-byte header per job, one letter and a
// big-endian uint64 n:
//
//	'e'  n round trips: read 16 bytes, write them back
//	'u'  read n bytes and drop them, then write the byte 'k'
//	'd'  write n bytes
//
// It serves jobs until rw fails or ends (io.EOF between jobs is a clean
// end, returned as nil), or a header is refused (ErrRawJob).
func ServeRaw(rw io.ReadWriter) error {
	buf := make([]byte, 256<<10)
	for {
		var hdr [9]byte
		if _, err := io.ReadFull(rw, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("bench: reading a raw job: %w", err)
		}
		n := binary.BigEndian.Uint64(hdr[1:])
		if n > MaxRawJob {
			return fmt.Errorf("%w: %q of %d, more than %d", ErrRawJob, hdr[0], n, uint64(MaxRawJob))
		}
		if err := rawJob(rw, hdr[0], int64(n), buf); err != nil {
			return err
		}
	}
}

func rawJob(rw io.ReadWriter, op byte, n int64, buf []byte) error {
	switch op {
	case 'e':
		for range n {
			if _, err := io.ReadFull(rw, buf[:16]); err != nil {
				return err
			}
			if _, err := rw.Write(buf[:16]); err != nil {
				return err
			}
		}
	case 'u':
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(rw, n), buf); err != nil {
			return err
		}
		_, err := rw.Write([]byte{'k'})
		return err
	case 'd':
		for n > 0 {
			m, err := rw.Write(buf[:min(n, int64(len(buf)))])
			if err != nil {
				return err
			}
			n -= int64(m)
		}
	default:
		return fmt.Errorf("%w: unknown job %q", ErrRawJob, op)
	}
	return nil
}

// RawHeader is the header of a raw job for ServeRaw.
func RawHeader(op byte, n int64) [9]byte {
	var hdr [9]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:], uint64(n))
	return hdr
}
