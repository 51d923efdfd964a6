package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
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
//	'f'  read n bytes into a new file (ServeRawFiles only), fsync it,
//	     remove it, then write the byte 'k'
//
// It serves jobs until rw fails or ends (io.EOF between jobs is a clean
// end, returned as nil), or a header is refused (ErrRawJob).
func ServeRaw(rw io.ReadWriter) error { return ServeRawFiles(rw, "") }

// ServeRawFiles is ServeRaw that also serves 'f' jobs, whose files it
// writes in dir: the upload floor that writes what it reads to a file,
// as the agent's file.write does and the unix-socket floor does.
func ServeRawFiles(rw io.ReadWriter, dir string) error {
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
		if hdr[0] == 'f' && dir != "" {
			if err := rawFile(rw, int64(n), buf, dir); err != nil {
				return err
			}
			continue
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

// rawFile reads n bytes of rw into a new file in dir, a buffer at a
// time (each read(2) of a port returns at most a page), syncs and
// removes the file, and acknowledges with 'k'.
func rawFile(rw io.ReadWriter, n int64, buf []byte, dir string) error {
	f, err := os.CreateTemp(dir, "rawport-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	for n > 0 {
		m, err := io.ReadFull(rw, buf[:min(n, int64(len(buf)))])
		if err != nil {
			return err
		}
		if _, err := f.Write(buf[:m]); err != nil {
			return err
		}
		n -= int64(m)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	_, err = rw.Write([]byte{'k'})
	return err
}

// RawHeader is the header of a raw job for ServeRaw.
func RawHeader(op byte, n int64) [9]byte {
	var hdr [9]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:], uint64(n))
	return hdr
}
