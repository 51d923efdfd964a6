package matchlock_test

import (
	"bytes"
	osexec "os/exec"
	"strings"
	"sync"
	"testing"
)

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func exec(cmd string) ([]byte, error) {
	return osexec.Command("sh", "-c", cmd).Output()
}

// lockedBuffer is a buffer written by one goroutine and watched by the
// test.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer holds want.
func (b *lockedBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), want) {
			b.mu.Unlock()
			return
		}
		ch := make(chan struct{})
		b.changed = ch
		b.mu.Unlock()
		<-ch
	}
}
