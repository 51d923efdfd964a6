package process_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/process"
)

// blockingWriter counts bytes, blocking its first Write until released.
type blockingWriter struct {
	first   chan struct{} // closed at the first Write
	release chan struct{}
	once    sync.Once
	n       int
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.first)
		<-w.release
	})
	w.n += len(p)
	return len(p), nil
}

// TestFlowControl: a host that stops reading stops the process instead
// of the agent buffering its output. With the host's writer blocked, head
// must end up asleep in write(2) on a full stdout pipe, no longer making
// progress, having written far less than it was asked to.
func TestFlowControl(t *testing.T) {
	c, _ := setup(t, process.Options{})
	ctx := testCtx(t)
	w := &blockingWriter{first: make(chan struct{}), release: make(chan struct{})}
	const size = 64 << 20
	p, err := c.Start(ctx, process.Spec{Path: "head", Args: []string{"-c", strconv.Itoa(size), "/dev/zero"}}, nil, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-w.first
	var last blockedWrite
	stable := 0
	waitFor(t, func() bool {
		b, err := writeBlocked(p.PID)
		if err != nil {
			t.Fatalf("with the host not reading, head should still be running: %v", err)
		}
		if b.full && b.inWrite && b.written == last.written {
			stable++
		} else {
			stable = 0
		}
		last = b
		return stable == 20
	})
	if last.written >= size/4 {
		t.Errorf("head wrote %d of %d bytes while the host read nothing: the agent buffers its output", last.written, size)
	}
	t.Logf("head blocked in write after %d bytes (stdout pipe holds %d)", last.written, last.pipeSize)
	close(w.release)
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if w.n != size {
		t.Errorf("got %d bytes, want %d", w.n, size)
	}
}

// blockedWrite is what /proc says about a process writing to a pipe.
type blockedWrite struct {
	inWrite  bool  // asleep in the pipe's write (or asleep, where wchan is hidden)
	full     bool  // its stdout pipe holds as much as it can
	pipeSize int   // that pipe's capacity
	written  int64 // bytes it has written (wchar)
}

// writeBlocked reads pid's state, wait channel and write count, and how
// full its stdout pipe is (through a second reader opened on the pipe by
// /proc/pid/fd/1, which reads nothing).
func writeBlocked(pid int) (blockedWrite, error) {
	var b blockedWrite
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return b, err
	}
	state := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))[0]
	wchan, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	if err != nil {
		return b, err
	}
	// wchan is "0" where kernel symbols are hidden; the state must do.
	// Older kernels name the sleep pipe_wait.
	w := string(wchan)
	b.inWrite = state == "S" && (strings.Contains(w, "pipe_write") || strings.Contains(w, "pipe_wait") || w == "0")
	ioStats, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return b, err
	}
	for _, line := range strings.Split(string(ioStats), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			b.written, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/1", pid), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return b, err
	}
	defer f.Close()
	queued, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
	if err != nil {
		return b, err
	}
	b.pipeSize, err = unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return b, err
	}
	b.full = queued == b.pipeSize
	return b, nil
}
