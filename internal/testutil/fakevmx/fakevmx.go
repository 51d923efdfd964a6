// Package fakevmx is a Go model of the VMX side of the VMware backdoor,
// faithful enough to drive package backdoor's whole message protocol in
// tests: GETVERSION, channel open/close with cookies, send and receive in
// low- and high-bandwidth mode, and TCLO/RPCI queues.
package fakevmx

import (
	"encoding/binary"
	"sync"

	"github.com/guestrpc/guestrpc/backdoor"
)

const (
	msgOpen = iota
	msgSendSize
	msgSendPayload
	msgRecvSize
	msgRecvPayload
	msgRecvStatus
	msgClose

	stSuccess = 0x0001
	stDoRecv  = 0x0002
	stHighBW  = 0x0080
)

// VMX implements backdoor.Port.
type VMX struct {
	// NoMessages makes the VMX ignore the message command, as QEMU's
	// vmport does.
	NoMessages bool
	// HighBandwidth offers REP INSB/OUTSB transfers.
	HighBandwidth bool
	// RPCI answers a guest request; nil answers "1 " (success, empty).
	RPCI func(req []byte) []byte

	mu       sync.Mutex
	chans    map[uint16]*vchan
	next     uint16
	tclo     [][]byte // commands waiting for the guest
	replies  [][]byte // TCLO replies the guest sent
	requests [][]byte // RPCI requests the guest sent
}

type vchan struct {
	proto          uint32
	cookieH, ckL   uint32
	in             []byte // message being received from the guest
	inWant         int
	out            []byte // message the guest is reading
	outOff         int
	pendingReplyOK bool
}

// QueueTCLO queues a command for the guest's TCLO channel.
func (v *VMX) QueueTCLO(cmd string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tclo = append(v.tclo, []byte(cmd))
}

// Replies returns the TCLO replies the guest sent so far.
func (v *VMX) Replies() []string { return v.strings(func() [][]byte { return v.replies }) }

// Requests returns the RPCI requests the guest sent so far.
func (v *VMX) Requests() []string { return v.strings(func() [][]byte { return v.requests }) }

func (v *VMX) strings(get func() [][]byte) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, b := range get() {
		out = append(out, string(b))
	}
	return out
}

// Close does nothing; the fake has no resources.
func (v *VMX) Close() error { return nil }

// InOut models IN on the low-bandwidth port.
func (v *VMX) InOut(r *backdoor.Regs) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if uint32(r.AX) != backdoor.Magic || uint16(r.DX) != backdoor.LowBandwidthPort {
		r.AX = 0xffffffff // as an absent device reads
		return
	}
	switch uint16(r.CX) {
	case backdoor.CmdGetVersion:
		r.AX, r.BX, r.CX = 6, backdoor.Magic, 2
	case backdoor.CmdMessage:
		if v.NoMessages {
			r.CX = 0 // QEMU leaves the status without the success bit
			return
		}
		v.message(r)
	default:
		r.AX = 0xffffffff
	}
}

func (v *VMX) status(r *backdoor.Regs, st uint16) { r.CX = uint64(st) << 16 }

func (v *VMX) message(r *backdoor.Regs) {
	typ := uint16(r.CX >> 16)
	if typ == msgOpen {
		if v.chans == nil {
			v.chans = map[uint16]*vchan{}
		}
		v.next++
		c := &vchan{proto: uint32(r.BX) &^ 0x80000000, cookieH: 0x1000 + uint32(v.next), ckL: 0x2000 + uint32(v.next)}
		v.chans[v.next] = c
		r.DX = uint64(v.next) << 16
		r.SI, r.DI = uint64(c.cookieH), uint64(c.ckL)
		v.status(r, stSuccess)
		return
	}
	id := uint16(r.DX >> 16)
	c := v.chans[id]
	if c == nil || uint32(r.SI) != c.cookieH || uint32(r.DI) != c.ckL {
		v.status(r, 0)
		return
	}
	hb := uint16(0)
	if v.HighBandwidth {
		hb = stHighBW
	}
	switch typ {
	case msgSendSize:
		c.in, c.inWant = c.in[:0], int(uint32(r.BX))
		if c.inWant == 0 {
			v.complete(c)
		}
		v.status(r, stSuccess|hb)
	case msgSendPayload:
		var w [4]byte
		binary.LittleEndian.PutUint32(w[:], uint32(r.BX))
		c.in = append(c.in, w[:min(4, c.inWant-len(c.in))]...)
		if len(c.in) == c.inWant {
			v.complete(c)
		}
		v.status(r, stSuccess)
	case msgRecvSize:
		if c.out == nil {
			v.status(r, stSuccess)
			return
		}
		r.BX = uint64(len(c.out))
		r.DX = uint64(msgSendSize) << 16
		v.status(r, stSuccess|stDoRecv|hb)
	case msgRecvPayload:
		var w [4]byte
		copy(w[:], c.out[c.outOff:])
		c.outOff += 4
		r.BX = uint64(binary.LittleEndian.Uint32(w[:]))
		r.DX = uint64(msgSendPayload) << 16
		v.status(r, stSuccess)
	case msgRecvStatus:
		c.out, c.outOff = nil, 0
		v.refill(c)
		v.status(r, stSuccess)
	case msgClose:
		delete(v.chans, id)
		v.status(r, stSuccess)
	default:
		v.status(r, 0)
	}
}

// complete handles a whole message from the guest.
func (v *VMX) complete(c *vchan) {
	msg := append([]byte(nil), c.in...)
	switch c.proto {
	case backdoor.ProtoRPCI:
		v.requests = append(v.requests, msg)
		reply := []byte("1 ")
		if v.RPCI != nil {
			reply = v.RPCI(msg)
		}
		c.out = reply
	case backdoor.ProtoTCLO:
		// The guest's TCLO send is its reply to the last command (or the
		// empty poll message); the next command becomes receivable.
		if len(msg) > 0 {
			v.replies = append(v.replies, msg)
		}
		v.refill(c)
	}
}

func (v *VMX) refill(c *vchan) {
	if c.proto == backdoor.ProtoTCLO && c.out == nil && len(v.tclo) > 0 {
		c.out, v.tclo = v.tclo[0], v.tclo[1:]
	}
}

// HighBandwidthOut models REP OUTSB: the guest's whole message at once.
func (v *VMX) HighBandwidthOut(r *backdoor.Regs, buf []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.hbChan(r, uint32(r.BP), uint32(r.DI))
	if c == nil || int(uint32(r.CX)) != c.inWant || len(buf) != c.inWant {
		r.BX = 0
		return
	}
	c.in = append(c.in[:0], buf...)
	v.complete(c)
	r.BX = uint64(stSuccess) << 16
}

// HighBandwidthIn models REP INSB: the pending message at once.
func (v *VMX) HighBandwidthIn(r *backdoor.Regs, buf []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.hbChan(r, uint32(r.SI), uint32(r.BP))
	if c == nil || c.out == nil || len(buf) != len(c.out) {
		r.BX = 0
		return
	}
	copy(buf, c.out)
	r.BX = uint64(stSuccess) << 16
}

func (v *VMX) hbChan(r *backdoor.Regs, ckH, ckL uint32) *vchan {
	if uint32(r.AX) != backdoor.Magic || uint16(r.DX) != backdoor.HighBandwidthPort {
		return nil
	}
	c := v.chans[uint16(r.DX>>16)]
	if c == nil || c.cookieH != ckH || c.ckL != ckL {
		return nil
	}
	return c
}
