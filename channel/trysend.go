package channel

import (
	"net"
	"syscall"

	"github.com/guestrpc/guestrpc/wire"
)

// TrySend sends f only if it can start at once and never waits: when no
// other Send is under way and the transport takes the frame, or the first
// part of it, without waiting (a part taken, a goroutine writes the rest,
// and sends after it wait for that). It reports false, having written
// nothing, otherwise, and on transports where it cannot tell (anything
// but a unix or TCP socket or a virtio port on a Unix system). A reader
// that must never block on its peer (a read loop answering PINGs) uses
// it and hands what it could not send to a goroutine that may wait.
func (s *Stream) TrySend(f *wire.Frame) (bool, error) {
	if uint32(len(f.Payload)) > wire.LimitMaxPayload || len(f.Payload) > trySendMax {
		return false, nil
	}
	var rc syscall.RawConn
	tw, _ := s.rwc.(tryWriter)
	switch c := s.rwc.(type) {
	case *net.UnixConn:
		rc, _ = c.SyscallConn()
	case *net.TCPConn:
		rc, _ = c.SyscallConn()
	}
	if (rc == nil && tw == nil) || !s.wmu.TryLock() {
		return false, nil
	}
	select {
	case <-s.closed:
		s.wmu.Unlock()
		return false, s.wrap("send", ErrClosed)
	default:
	}
	s.tbuf = wire.AppendFrame(s.tbuf[:0], f)
	var n int
	var err error
	if tw != nil {
		n, err = tw.tryWrite(s.tbuf)
	} else {
		n, err = tryWrite(rc, s.tbuf)
	}
	switch {
	case err != nil:
		s.wmu.Unlock()
		_ = s.Close()
		return false, s.wrap("send", err)
	case n == 0:
		s.wmu.Unlock()
		return false, nil
	case n < len(s.tbuf):
		// Part went out (a port, unlike a socket, takes part of a small
		// write): the rest must follow before any other frame, and may
		// have to wait for the peer, which the caller must not. A
		// goroutine writes it and holds the write lock until it has;
		// a Send meanwhile waits for it, a TrySend declines.
		go s.finishTrySend(s.tbuf[n:])
		return true, nil
	}
	s.wmu.Unlock()
	return true, nil
}

// finishTrySend writes the rest of a frame TrySend began, then releases
// the write lock TrySend took. A failed write ends the stream, as a
// failed Send does.
func (s *Stream) finishTrySend(rest []byte) {
	defer s.wmu.Unlock()
	if _, err := s.rwc.Write(rest); err != nil {
		_ = s.Close()
	}
}

// tryWriter is a transport other than a socket that can make a write
// that never blocks (a virtio port's session): 0 and no error when it
// would have to wait.
type tryWriter interface {
	tryWrite(b []byte) (int, error)
}

// trySendMax bounds the frames TrySend takes: control frames.
const trySendMax = 256
