package hgfs

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// archiveFile connects HGFS reads or writes to a goroutine that builds
// or extracts a tar stream. Chunks pass through an unbuffered channel,
// so at most one chunk is held, and every wait gives up when the
// caller's context or the file ends.
type archiveFile struct {
	reading bool
	chunks  chan []byte   // builder to reader, or writer to extractor
	eof     chan struct{} // closed when the goroutine has ended
	err     error         // the goroutine's error, set before eof closes
	ctx     context.Context
	cancel  context.CancelFunc
	rest    []byte // of the chunk being read
}

// startArchive runs work in a goroutine; reading says which way the
// bytes go.
func startArchive(reading bool, work func(context.Context, *archiveFile) error) *archiveFile {
	ctx, cancel := context.WithCancel(context.Background())
	a := &archiveFile{reading: reading, chunks: make(chan []byte), eof: make(chan struct{}), ctx: ctx, cancel: cancel}
	go func() {
		a.err = work(ctx, a)
		close(a.eof)
	}()
	return a
}

// writer is the builder's side: each Write hands over a copy.
func (a *archiveFile) writer(ctx context.Context) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		select {
		case a.chunks <- append([]byte(nil), p...):
			return len(p), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
}

// reader is the extractor's side: it reads what WriteContext hands over
// until Close.
func (a *archiveFile) reader(ctx context.Context) io.Reader {
	var rest []byte
	return readerFunc(func(p []byte) (int, error) {
		for len(rest) == 0 {
			select {
			case b, ok := <-a.chunks:
				if !ok {
					return 0, io.EOF
				}
				rest = b
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		n := copy(p, rest)
		rest = rest[n:]
		return n, nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (a *archiveFile) Read(p []byte) (int, error) { return a.ReadContext(context.Background(), p) }

func (a *archiveFile) Write(p []byte) (int, error) { return a.WriteContext(context.Background(), p) }

// ReadContext reads the archive being built, waiting until ctx ends.
func (a *archiveFile) ReadContext(ctx context.Context, p []byte) (int, error) {
	if !a.reading {
		return 0, fmt.Errorf("archive: %w: opened for writing", errors.ErrUnsupported)
	}
	for len(a.rest) == 0 {
		select {
		case b := <-a.chunks:
			a.rest = b
		case <-a.eof:
			if a.err != nil {
				return 0, a.err
			}
			return 0, io.EOF
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	n := copy(p, a.rest)
	a.rest = a.rest[n:]
	return n, nil
}

// WriteContext hands p to the extraction, waiting until ctx ends.
func (a *archiveFile) WriteContext(ctx context.Context, p []byte) (int, error) {
	if a.reading {
		return 0, fmt.Errorf("archive: %w: opened for reading", errors.ErrUnsupported)
	}
	if len(p) == 0 {
		return 0, nil
	}
	select {
	case a.chunks <- append([]byte(nil), p...):
		return len(p), nil
	case <-a.eof:
		if a.err != nil {
			return 0, a.err
		}
		return 0, fmt.Errorf("archive: %w: the extraction has ended", io.ErrClosedPipe)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Close ends the stream. A reader that stops early abandons the
// archive; a writer's Close ends the tar stream, waits for the
// extraction and returns its error.
func (a *archiveFile) Close() error {
	if a.reading {
		a.cancel()
		<-a.eof
		return nil
	}
	close(a.chunks)
	<-a.eof
	a.cancel()
	return a.err
}
