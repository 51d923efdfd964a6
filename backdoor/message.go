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

// Send sends one message.
func (c *Channel) Send(msg []byte) error {
	if len(msg) > MaxMessage {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), MaxMessage)
	}
	for attempt := 0; ; attempt++ {
		r := c.regs(msgSendSize)
		r.BX = uint64(len(msg))
		call(c.p, &r)
		st := hi16(r.CX)
		if st&statusSuccess == 0 {
			return fmt.Errorf("%w: channel %d: VMX refused a %d-byte message", ErrChannel, c.id, len(msg))
		}
		if len(msg) == 0 {
			return nil
		}
		if st&statusHighBW != 0 && !c.LowBandwidthOnly {
			hb := Regs{AX: Magic, BX: hilo(statusSuccess, cmdHBMessage), CX: uint64(len(msg)),
				DX: hilo(c.id, HighBandwidthPort), BP: uint64(c.cookieH), DI: uint64(c.cookieL)}
			c.p.HighBandwidthOut(&hb, msg)
			st = hi16(hb.BX)
			if st&statusSuccess != 0 {
				return nil
			}
			if st&statusCheckpoint != 0 && attempt < 8 {
				continue // the VM was checkpointed mid-transfer; start over
			}
			return fmt.Errorf("%w: channel %d: high-bandwidth send of %d bytes failed", ErrChannel, c.id, len(msg))
		}
		for off := 0; off < len(msg); off += 4 {
			var word [4]byte
			copy(word[:], msg[off:])
			r := c.regs(msgSendPayload)
			r.BX = uint64(binary.LittleEndian.Uint32(word[:]))
			call(c.p, &r)
			if hi16(r.CX)&statusSuccess == 0 {
				return fmt.Errorf("%w: channel %d: VMX refused payload at byte %d of %d", ErrChannel, c.id, off, len(msg))
			}
		}
		return nil
	}
}

// Receive polls for a message. It returns (nil, false, nil) when none is
// waiting.
func (c *Channel) Receive() ([]byte, bool, error) {
	for attempt := 0; ; attempt++ {
		r := c.regs(msgRecvSize)
		call(c.p, &r)
		st := hi16(r.CX)
		if st&statusSuccess == 0 {
			return nil, false, fmt.Errorf("%w: channel %d: receive-size refused", ErrChannel, c.id)
		}
		if st&statusDoRecv == 0 {
			return nil, false, nil
		}
		if hi16(r.DX) != msgSendSize {
			return nil, false, fmt.Errorf("%w: channel %d: VMX answered receive-size with message type %d", ErrChannel, c.id, hi16(r.DX))
		}
		size := uint32(r.BX)
		if size > MaxMessage {
			c.reply(msgRecvStatus, 0)
			return nil, false, fmt.Errorf("%w: VMX announced %d bytes, limit %d", ErrTooLarge, size, MaxMessage)
		}
		buf := make([]byte, size)
		retry := false
		if size > 0 && st&statusHighBW != 0 && !c.LowBandwidthOnly {
			hb := Regs{AX: Magic, BX: hilo(statusSuccess, cmdHBMessage), CX: uint64(size),
				DX: hilo(c.id, HighBandwidthPort), SI: uint64(c.cookieH), BP: uint64(c.cookieL)}
			c.p.HighBandwidthIn(&hb, buf)
			if hi16(hb.BX)&statusSuccess == 0 {
				if hi16(hb.BX)&statusCheckpoint != 0 && attempt < 8 {
					continue
				}
				c.reply(msgRecvPayload, 0)
				return nil, false, fmt.Errorf("%w: channel %d: high-bandwidth receive of %d bytes failed", ErrChannel, c.id, size)
			}
		} else {
			for off := 0; off < int(size); off += 4 {
				r := c.regs(msgRecvPayload)
				r.BX = statusSuccess
				call(c.p, &r)
				st := hi16(r.CX)
				if st&statusSuccess == 0 {
					if st&statusCheckpoint != 0 && attempt < 8 {
						retry = true
						break
					}
					c.reply(msgRecvPayload, 0)
					return nil, false, fmt.Errorf("%w: channel %d: payload refused at byte %d of %d", ErrChannel, c.id, off, size)
				}
				if hi16(r.DX) != msgSendPayload {
					c.reply(msgRecvPayload, 0)
					return nil, false, fmt.Errorf("%w: channel %d: VMX sent message type %d inside a payload", ErrChannel, c.id, hi16(r.DX))
				}
				var word [4]byte
				binary.LittleEndian.PutUint32(word[:], uint32(r.BX))
				copy(buf[off:], word[:])
			}
		}
		if retry {
			continue
		}
		c.reply(msgRecvStatus, statusSuccess)
		return buf, true, nil
	}
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
