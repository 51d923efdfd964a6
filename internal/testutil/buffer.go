package testutil

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// LockedBuffer is a bytes.Buffer safe for concurrent writers and polling
// readers, for logs and command output that tests inspect while they
// are still being written.
type LockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed by the next Write; made by WaitFor
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor waits until the buffer holds want, or ctx ends.
func (b *LockedBuffer) WaitFor(ctx context.Context, want string) error {
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), want) {
			b.mu.Unlock()
			return nil
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Wait is WaitFor for a test: it fails tb if want has not been written
// within a minute (a bound against hangs, not a timing assertion).
func (b *LockedBuffer) Wait(tb testing.TB, want string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.WaitFor(ctx, want); err != nil {
		tb.Fatalf("waiting for %q in the output: %v; it holds %q", want, err, b.String())
	}
}
