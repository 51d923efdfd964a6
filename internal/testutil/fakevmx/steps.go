package fakevmx

import "github.com/guestrpc/guestrpc/backdoor"

// The message steps, as the VMX answers them.

func (v *VMX) hb() uint16 {
	if v.HighBandwidth {
		return stHighBW
	}
	return 0
}

func (v *VMX) sendSize(r *backdoor.Regs, c *vchan) {
	if st, ok := v.fault(OpSendSize); ok {
		status(r, st)
		return
	}
	if c.sizing && !c.restartOK {
		v.mistake("SENDSIZE on channel with %d of %d bytes of the last message sent", len(c.in), c.inWant)
	}
	if c.proto == backdoor.ProtoRPCI && c.out != nil {
		v.mistake("RPCI request sent before the reply to the last one was read")
	}
	c.restartOK = false
	c.in, c.inWant, c.sizing = c.in[:0], int(uint32(r.BX)), true
	if c.inWant == 0 {
		v.complete(c)
	}
	status(r, stSuccess|v.hb())
}

func (v *VMX) sendPayload(r *backdoor.Regs, c *vchan) {
	if !c.sizing || c.restartOK {
		v.mistake("SENDPAYLOAD without a SENDSIZE before it")
		status(r, 0)
		return
	}
	if st, ok := v.fault(OpSendPayload); ok {
		c.restartOK = true // the partial message is gone
		status(r, st)
		return
	}
	w := [4]byte{byte(r.BX), byte(r.BX >> 8), byte(r.BX >> 16), byte(r.BX >> 24)}
	c.in = append(c.in, w[:min(4, c.inWant-len(c.in))]...)
	if len(c.in) == c.inWant {
		v.complete(c)
	}
	status(r, stSuccess)
}

func (v *VMX) recvSize(r *backdoor.Regs, c *vchan) {
	if st, ok := v.fault(OpRecvSize); ok {
		status(r, st)
		return
	}
	if c.outOff > 0 && !c.restartOK {
		v.mistake("RECVSIZE with %d of %d bytes of a message read and no status", c.outOff, len(c.out))
	}
	c.outOff, c.restartOK = 0, false
	if c.proto == backdoor.ProtoTCLO && v.pending != nil && c.out == nil {
		v.mistake("TCLO receive before replying to %q", v.pending.msg)
	}
	if c.out == nil {
		status(r, stSuccess)
		return
	}
	r.BX = uint64(len(c.out))
	r.DX = uint64(msgSendSize) << 16
	status(r, stSuccess|stDoRecv|v.hb())
}

func (v *VMX) recvPayload(r *backdoor.Regs, c *vchan) {
	if c.out == nil || c.restartOK {
		v.mistake("RECVPAYLOAD with no message announced")
		status(r, 0)
		return
	}
	if uint32(r.BX)&stSuccess == 0 { // the guest aborts the message
		if c.outOff >= len(c.out) {
			v.mistake("RECVPAYLOAD abort with no bytes left; the abort is RECVSTATUS(0)")
		}
		v.reject(c)
		status(r, stSuccess)
		return
	}
	if c.outOff >= len(c.out) {
		v.mistake("RECVPAYLOAD past the end of a %d-byte message", len(c.out))
		status(r, 0)
		return
	}
	if st, ok := v.fault(OpRecvPayload); ok {
		c.restartOK = true
		status(r, st)
		return
	}
	var w [4]byte
	copy(w[:], c.out[c.outOff:])
	c.outOff += 4
	r.BX = uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24
	r.DX = uint64(msgSendPayload) << 16
	status(r, stSuccess)
}

func (v *VMX) recvStatus(r *backdoor.Regs, c *vchan) {
	if c.out == nil || c.restartOK {
		v.mistake("RECVSTATUS with no message announced")
		status(r, 0)
		return
	}
	if uint32(r.BX)&stSuccess == 0 {
		if c.outOff < len(c.out) {
			v.mistake("RECVSTATUS abort with %d bytes left; the abort is RECVPAYLOAD(0)", len(c.out)-c.outOff)
		}
		v.reject(c)
		status(r, stSuccess)
		return
	}
	if c.outOff < len(c.out) {
		v.mistake("RECVSTATUS after %d of %d bytes", c.outOff, len(c.out))
	}
	if st, ok := v.fault(OpRecvStatus); ok {
		c.restartOK = true // unacknowledged: offered again
		status(r, st)
		return
	}
	if c.cmd != nil {
		v.pending = c.cmd
	}
	c.out, c.outOff, c.cmd = nil, 0, nil
	v.refill(c)
	v.notify()
	status(r, stSuccess)
}

func (v *VMX) reject(c *vchan) {
	v.rejected++
	if c.cmd != nil && c.cmd.reply != nil {
		close(c.cmd.reply)
	}
	c.out, c.outOff, c.cmd = nil, 0, nil
	v.refill(c)
	v.notify()
}

// complete handles a whole message from the guest.
func (v *VMX) complete(c *vchan) {
	msg := append([]byte(nil), c.in...)
	c.sizing = false
	switch c.proto {
	case backdoor.ProtoRPCI:
		v.requests = append(v.requests, msg)
		reply := []byte("1 ")
		if v.RPCI != nil {
			reply = v.RPCI(msg)
		}
		c.out = reply
	case backdoor.ProtoTCLO:
		// The guest's TCLO send is its reply to the last command, or the
		// empty poll message when it has none.
		switch {
		case len(msg) > 0 && v.pending == nil:
			v.mistake("TCLO reply %q with no command outstanding", msg)
		case len(msg) > 0:
			v.replies = append(v.replies, msg)
			if v.pending.reply != nil {
				v.pending.reply <- msg
			}
			v.pending = nil
		case v.pending != nil:
			v.mistake("empty TCLO send while %q awaits its reply", v.pending.msg)
		}
		v.refill(c)
	}
	v.notify()
}

func (v *VMX) refillAll() {
	for _, c := range v.chans {
		v.refill(c)
	}
}

func (v *VMX) refill(c *vchan) {
	if c.proto == backdoor.ProtoTCLO && c.out == nil && v.pending == nil && len(v.tclo) > 0 {
		c.cmd, v.tclo = v.tclo[0], v.tclo[1:]
		c.out = c.cmd.msg
	}
}

// HighBandwidthOut models REP OUTSB: the guest's whole message at once.
func (v *VMX) HighBandwidthOut(r *backdoor.Regs, buf []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ops++
	c := v.hbChan(r, uint32(r.BP), uint32(r.DI))
	if c == nil || !c.sizing || c.restartOK || int(uint32(r.CX)) != c.inWant || len(buf) != c.inWant {
		v.mistake("REP OUTSB not matching the announced size")
		r.BX = 0
		return
	}
	if st, ok := v.fault(OpHBOut); ok {
		c.restartOK = true
		r.BX = uint64(st) << 16
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
	v.ops++
	c := v.hbChan(r, uint32(r.SI), uint32(r.BP))
	if c == nil || c.out == nil || c.restartOK || len(buf) != len(c.out) {
		v.mistake("REP INSB not matching the announced message")
		r.BX = 0
		return
	}
	if st, ok := v.fault(OpHBIn); ok {
		c.restartOK = true
		r.BX = uint64(st) << 16
		return
	}
	copy(buf, c.out)
	c.outOff = len(c.out)
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
