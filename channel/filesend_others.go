//go:build !linux

package channel

import (
	"fmt"
	"io"
	"syscall"
)

// fileSend is empty where splice(2) is missing: SendFile refuses.
type fileSend struct{ pipeSize int }

func (*fileSend) open(any, syscall.Conn) error {
	return fmt.Errorf("%w: no splice(2) on this system", ErrNoFileSend)
}
func (*fileSend) fill(int) (int, error)             { return 0, ErrNoFileSend }
func (*fileSend) send(io.Writer, []byte, int) error { return ErrNoFileSend }
func (*fileSend) close() error                      { return nil }
