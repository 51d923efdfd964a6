package channel

import (
	"net"
	"syscall"

	"github.com/guestrpc/guestrpc/wire"
)

// TrySend writes f only if it can do so at once: when no other Send is
// under way and the transport takes the whole frame without waiting. It
// reports false, having written nothing, otherwise, and on transports
// where it cannot tell (anything but a unix or TCP socket on a Unix
// system). A reader that must never block on its peer (a read loop
// answering PINGs) uses it and hands what it could not send to a
// goroutine that may wait.
func (s *Stream) TrySend(f *wire.Frame) (bool, error) {
	if uint32(len(f.Payload)) > wire.LimitMaxPayload || len(f.Payload) > trySendMax {
		return false, nil
	}
	var rc syscall.RawConn
	switch c := s.rwc.(type) {
	case *net.UnixConn:
		rc, _ = c.SyscallConn()
	case *net.TCPConn:
		rc, _ = c.SyscallConn()
	}
	if rc == nil || !s.wmu.TryLock() {
		return false, nil
	}
	defer s.wmu.Unlock()
	select {
	case <-s.closed:
		return false, s.wrap("send", ErrClosed)
	default:
	}
	s.tbuf = wire.AppendFrame(s.tbuf[:0], f)
	n, err := tryWrite(rc, s.tbuf)
	if n == 0 && err == nil {
		return false, nil
	}
	if err == nil && n < len(s.tbuf) {
		// Part went out: the rest must follow before any other frame.
		_, err = s.rwc.Write(s.tbuf[n:])
	}
	if err != nil {
		_ = s.Close()
		return false, s.wrap("send", err)
	}
	return true, nil
}

// trySendMax bounds the frames TrySend takes: control frames.
const trySendMax = 256
