package backdoor

import (
	"encoding/binary"
	"fmt"
)

// Channel is an open message channel (RPCI or TCLO) to the VMX. It is not
// safe for concurrent use.
type Channel struct {
	p       Port
	proto   uint32
	id      uint16
	cookieH uint32
	cookieL uint32
	// LowBandwidthOnly disables REP INSB/OUTSB transfers even when the
	// VMX offers them.
	LowBandwidthOnly bool
}

// OpenChannel opens a message channel of protocol proto (ProtoRPCI or
// ProtoTCLO) on p. It asks for cookies first and falls back to a channel
// without them, as old VMXs need.
func OpenChannel(p Port, proto uint32) (*Channel, error) {
	for _, flags := range []uint32{flagCookie, 0} {
		r := Regs{BX: uint64(proto | flags), CX: hilo(msgOpen, CmdMessage)}
		call(p, &r)
		if hi16(r.CX)&statusSuccess != 0 {
			return &Channel{p: p, proto: proto, id: hi16(r.DX), cookieH: uint32(r.SI), cookieL: uint32(r.DI)}, nil
		}
	}
	return nil, fmt.Errorf("%w: the VMX refused to open a %s channel (message command %d unanswered)", ErrChannel, protoName(proto), CmdMessage)
}

func protoName(proto uint32) string {
	switch proto {
	case ProtoRPCI:
		return "RPCI"
	case ProtoTCLO:
		return "TCLO"
	}
	return fmt.Sprintf("%#x", proto)
}

// call loads the magic and port and issues a low-bandwidth call.
func call(p Port, r *Regs) {
	r.AX = Magic
	r.DX = r.DX&^0xffff | LowBandwidthPort
	p.InOut(r)
}

// regs returns registers addressed to this channel.
func (c *Channel) regs(msgType uint16) Regs {
	return Regs{CX: hilo(msgType, CmdMessage), DX: hilo(c.id, 0), SI: uint64(c.cookieH), DI: uint64(c.cookieL)}
}

// MaxRetries caps how often one Send or Receive starts over after a
// checkpoint (or, on receive, an unacknowledged RECVSTATUS). message.c
// retries forever; a VMX that answers "checkpoint" to every step would
// then hold the guest's loop for ever, so after MaxRetries the call fails
// with ErrChannel and the caller reopens its channels, as after any
// error. A real checkpoint (snapshot, vMotion) interrupts a message once.
const MaxRetries = 8

// Send sends one message. A checkpoint during the transfer starts it over
// from SENDSIZE, as message.c does, at most MaxRetries times.
func (c *Channel) Send(msg []byte) error {
	if len(msg) > MaxMessage {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), MaxMessage)
	}
	for attempt := 0; ; attempt++ {
		retry, err := c.sendOnce(msg)
		if !retry {
			return err
		}
		if attempt+1 >= MaxRetries {
			return fmt.Errorf("%w: channel %d: sending %d bytes: interrupted by %d checkpoints in a row", ErrChannel, c.id, len(msg), MaxRetries)
		}
	}
}

// sendOnce makes one attempt at sending msg; retry reports a checkpoint.
func (c *Channel) sendOnce(msg []byte) (retry bool, err error) {
	r := c.regs(msgSendSize)
	r.BX = uint64(len(msg))
	call(c.p, &r)
	st := hi16(r.CX)
	if st&statusSuccess == 0 {
		return false, fmt.Errorf("%w: channel %d: VMX refused a %d-byte message", ErrChannel, c.id, len(msg))
	}
	if len(msg) == 0 {
		return false, nil
	}
	if st&statusHighBW != 0 && !c.LowBandwidthOnly {
		hb := Regs{AX: Magic, BX: hilo(statusSuccess, cmdHBMessage), CX: uint64(len(msg)),
			DX: hilo(c.id, HighBandwidthPort), BP: uint64(c.cookieH), DI: uint64(c.cookieL)}
		c.p.HighBandwidthOut(&hb, msg)
		st = hi16(hb.BX)
		if st&statusSuccess != 0 {
			return false, nil
		}
		if st&statusCheckpoint != 0 {
			return true, nil // the VM was checkpointed mid-transfer; start over
		}
		return false, fmt.Errorf("%w: channel %d: high-bandwidth send of %d bytes failed", ErrChannel, c.id, len(msg))
	}
	for off := 0; off < len(msg); off += 4 {
		var word [4]byte
		copy(word[:], msg[off:])
		r := c.regs(msgSendPayload)
		r.BX = uint64(binary.LittleEndian.Uint32(word[:]))
		call(c.p, &r)
		if st := hi16(r.CX); st&statusSuccess == 0 {
			if st&statusCheckpoint != 0 {
				return true, nil
			}
			return false, fmt.Errorf("%w: channel %d: VMX refused payload at byte %d of %d", ErrChannel, c.id, off, len(msg))
		}
	}
	return false, nil
}

// Receive polls for a message. It returns (nil, false, nil) when none is
// waiting. A checkpoint during the transfer, or a RECVSTATUS the VMX does
// not answer with success (the message is then still unacknowledged on
// its side), starts over from RECVSIZE, at most MaxRetries times.
//
// A message the guest gives up on (larger than MaxMessage, or a failed
// transfer) is refused as message.c refuses it: RECVPAYLOAD with status 0
// while bytes of it remain unread, RECVSTATUS with status 0 once none do.
func (c *Channel) Receive() ([]byte, bool, error) {
	for attempt := 0; ; attempt++ {
		msg, ok, retry, err := c.receiveOnce()
		if !retry {
			return msg, ok, err
		}
		if attempt+1 >= MaxRetries {
			return nil, false, fmt.Errorf("%w: channel %d: receiving: interrupted %d times in a row (checkpoint or unacknowledged status)", ErrChannel, c.id, MaxRetries)
		}
	}
}

func (c *Channel) receiveOnce() (msg []byte, ok, retry bool, err error) {
	r := c.regs(msgRecvSize)
	call(c.p, &r)
	st := hi16(r.CX)
	if st&statusSuccess == 0 {
		return nil, false, false, fmt.Errorf("%w: channel %d: receive-size refused", ErrChannel, c.id)
	}
	if st&statusDoRecv == 0 {
		return nil, false, false, nil
	}
	if hi16(r.DX) != msgSendSize {
		return nil, false, false, fmt.Errorf("%w: channel %d: VMX answered receive-size with message type %d", ErrChannel, c.id, hi16(r.DX))
	}
	size := uint32(r.BX)
	if size > MaxMessage {
		c.abort(true)
		return nil, false, false, fmt.Errorf("%w: VMX announced %d bytes, limit %d", ErrTooLarge, size, MaxMessage)
	}
	buf := make([]byte, size)
	if size > 0 && st&statusHighBW != 0 && !c.LowBandwidthOnly {
		retry, err = c.receiveHB(buf)
	} else {
		retry, err = c.receiveLB(buf)
	}
	if retry || err != nil {
		return nil, false, retry, err
	}
	r = c.regs(msgRecvStatus)
	r.BX = statusSuccess
	call(c.p, &r)
	if hi16(r.CX)&statusSuccess == 0 {
		// The VMX did not take the acknowledgement: it still holds the
		// message and offers it again. Returning it now would deliver it
		// twice (a TCLO command run twice, a reply matching no command).
		return nil, false, true, nil
	}
	return buf, true, false, nil
}

func (c *Channel) receiveHB(buf []byte) (retry bool, err error) {
	hb := Regs{AX: Magic, BX: hilo(statusSuccess, cmdHBMessage), CX: uint64(len(buf)),
		DX: hilo(c.id, HighBandwidthPort), SI: uint64(c.cookieH), BP: uint64(c.cookieL)}
	c.p.HighBandwidthIn(&hb, buf)
	if st := hi16(hb.BX); st&statusSuccess == 0 {
		if st&statusCheckpoint != 0 {
			return true, nil
		}
		c.abort(true)
		return false, fmt.Errorf("%w: channel %d: high-bandwidth receive of %d bytes failed", ErrChannel, c.id, len(buf))
	}
	return false, nil
}

func (c *Channel) receiveLB(buf []byte) (retry bool, err error) {
	for off := 0; off < len(buf); off += 4 {
		r := c.regs(msgRecvPayload)
		r.BX = statusSuccess
		call(c.p, &r)
		st := hi16(r.CX)
		if st&statusSuccess == 0 {
			if st&statusCheckpoint != 0 {
				return true, nil
			}
			c.abort(true)
			return false, fmt.Errorf("%w: channel %d: payload refused at byte %d of %d", ErrChannel, c.id, off, len(buf))
		}
		if hi16(r.DX) != msgSendPayload {
			c.abort(off+4 < len(buf))
			return false, fmt.Errorf("%w: channel %d: VMX sent message type %d inside a payload", ErrChannel, c.id, hi16(r.DX))
		}
		var word [4]byte
		binary.LittleEndian.PutUint32(word[:], uint32(r.BX))
		copy(buf[off:], word[:])
	}
	return false, nil
}

// abort refuses the message being received: RECVPAYLOAD(0) while bytes
// remain, else RECVSTATUS(0) (message.c's error_quit).
func (c *Channel) abort(bytesLeft bool) {
	if bytesLeft {
		c.reply(msgRecvPayload, 0)
		return
	}
	c.reply(msgRecvStatus, 0)
}

// reply acknowledges (or rejects) a received message.
func (c *Channel) reply(msgType, status uint16) {
	r := c.regs(msgType)
	r.BX = uint64(status)
	call(c.p, &r)
}

// Close closes the channel (not the port).
func (c *Channel) Close() error {
	r := c.regs(msgClose)
	call(c.p, &r)
	if hi16(r.CX)&statusSuccess == 0 {
		return fmt.Errorf("%w: channel %d: VMX refused to close it", ErrChannel, c.id)
	}
	return nil
}
