package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
//	'p'  read n bytes into the download file (ServeRawFiles only),
//	     replacing it, then write the byte 'k'
//	'g'  write the first n bytes of the download file (ServeRawFiles
//	     only), read from it a buffer at a time
//
// It serves jobs until rw fails or ends (io.EOF between jobs is a clean
// end, returned as nil), or a header is refused (ErrRawJob).
func ServeRaw(rw io.ReadWriter) error { return ServeRawFiles(rw, "") }

// ServeRawFiles is ServeRaw that also serves the jobs with files, which
// it keeps in dir: 'f', the upload floor that writes what it reads to a
// file, as the agent's file.write does and the unix-socket floor does,
// and 'g', the download floor that sends a file ('p' puts it there), as
// the agent's file.read does.
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
		if dir != "" {
			if handled, err := rawFileJob(rw, hdr[0], int64(n), buf, dir); handled || err != nil {
				if err != nil {
					return err
				}
				continue
			}
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

// rawDownloadFile is the name of the 'g' jobs' file in ServeRawFiles's
// directory.
const rawDownloadFile = "rawport-download"

// rawFileJob serves the jobs with files; handled is false for others.
func rawFileJob(rw io.ReadWriter, op byte, n int64, buf []byte, dir string) (handled bool, err error) {
	switch op {
	case 'f':
		f, err := os.CreateTemp(dir, "rawport-")
		if err != nil {
			return true, err
		}
		defer os.Remove(f.Name())
		return true, rawFile(rw, f, n, buf)
	case 'p':
		f, err := os.Create(filepath.Join(dir, rawDownloadFile))
		if err != nil {
			return true, err
		}
		return true, rawFile(rw, f, n, buf)
	case 'g':
		f, err := os.Open(filepath.Join(dir, rawDownloadFile))
		if err != nil {
			return true, err
		}
		defer f.Close()
		for n > 0 {
			m, err := io.ReadFull(f, buf[:min(n, int64(len(buf)))])
			if err != nil {
				return true, fmt.Errorf("bench: the download file ends %d bytes short: %w", n-int64(m), err)
			}
			if _, err := rw.Write(buf[:m]); err != nil {
				return true, err
			}
			n -= int64(m)
		}
		return true, nil
	}
	return false, nil
}

// rawFile reads n bytes of rw into f, a buffer at a time (each read(2)
// of a port returns at most a page), syncs and closes f, and
// acknowledges with 'k'.
func rawFile(rw io.ReadWriter, f *os.File, n int64, buf []byte) error {
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
	if err := f.Close(); err != nil {
		return err
	}
	_, err := rw.Write([]byte{'k'})
	return err
}

// RawHeader is the header of a raw job for ServeRaw.
func RawHeader(op byte, n int64) [9]byte {
	var hdr [9]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:], uint64(n))
	return hdr
}
