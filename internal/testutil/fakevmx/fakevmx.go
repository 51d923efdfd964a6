// Package fakevmx is a Go model of the VMX side of the VMware backdoor,
// written from the protocol rather than from the guest code, and faithful
// enough to drive package backdoor's whole message protocol in tests:
// GETVERSION, channel open/close with cookies, send and receive in low-
// and high-bandwidth mode, and TCLO/RPCI queues.
//
// It is strict: a guest protocol mistake (a payload without a size, a
// status before the whole message was read, a TCLO reply without a
// command, a second receive before the reply) is recorded, and fails the
// test at once when TB is set. It injects faults (Inject): a checkpoint or
// a failure status on any message step. Command waits for the guest's
// reply to one TCLO command; WaitRequests waits for RPCI requests.
package fakevmx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

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

// Status bits an injected fault can answer with.
const (
	StatusFail       = 0x0000 // the step failed
	StatusCheckpoint = 0x0010 // the VM was checkpointed during the step
)

// Op names a message step for fault injection.
type Op int

// Message steps.
const (
	OpSendSize Op = iota + 1
	OpSendPayload
	OpRecvSize
	OpRecvPayload
	OpRecvStatus
	OpHBOut // REP OUTSB of a whole message
	OpHBIn  // REP INSB of a whole message
)

// Fault makes the Skip+1-th occurrence of Op (counted from Inject) answer
// Status instead of succeeding. What the VMX does then is what a
// checkpoint or failure means for that step: a message being sent is
// discarded (the guest starts over at SENDSIZE), a message being received
// is kept and offered again from its first byte (the guest starts over at
// RECVSIZE).
type Fault struct {
	Op     Op
	Skip   int
	Status uint16
}

// ErrDropped is returned by Command when the guest closed its TCLO
// channel before replying.
var ErrDropped = errors.New("fakevmx: the TCLO channel closed before the guest replied")

// VMX implements backdoor.Port. The zero value is a working VMX.
type VMX struct {
	// NoMessages makes the VMX ignore the message command, as QEMU's
	// vmport does.
	NoMessages bool
	// HighBandwidth offers REP INSB/OUTSB transfers.
	HighBandwidth bool
	// LeaveECX models an old VMX whose GETVERSION does not set ECX.
	LeaveECX bool
	// RPCI answers a guest request; nil answers "1 " (success, empty).
	RPCI func(req []byte) []byte
	// TB, when set, fails the test on each guest protocol mistake.
	TB testing.TB

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every recorded event
	chans    map[uint16]*vchan
	next     uint16
	tclo     []*command // commands waiting for the guest
	pending  *command   // command delivered, reply not yet received
	replies  [][]byte   // TCLO replies the guest sent
	requests [][]byte   // RPCI requests the guest sent
	rejected int        // messages the guest refused to receive
	mistakes []string
	faults   []Fault
	ops      int
}

type command struct {
	msg   []byte
	reply chan []byte // nil for QueueTCLO; buffered 1
}

type vchan struct {
	proto        uint32
	cookieH, ckL uint32
	in           []byte // message being received from the guest
	inWant       int
	sizing       bool // a SENDSIZE announced a message not yet complete
	out          []byte
	outOff       int
	cmd          *command // TCLO: the command in out
	restartOK    bool     // a fault lets the guest start the step over
}

// Inject queues a fault.
func (v *VMX) Inject(f Fault) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults = append(v.faults, f)
}

// fault reports whether an injected fault hits op, consuming it.
func (v *VMX) fault(op Op) (uint16, bool) {
	for i := range v.faults {
		if v.faults[i].Op != op {
			continue
		}
		if v.faults[i].Skip > 0 {
			v.faults[i].Skip--
			return 0, false
		}
		st := v.faults[i].Status
		v.faults = append(v.faults[:i], v.faults[i+1:]...)
		return st, true
	}
	return 0, false
}

func (v *VMX) mistake(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.mistakes = append(v.mistakes, msg)
	if v.TB != nil {
		v.TB.Errorf("fakevmx: guest protocol mistake: %s", msg)
	}
}

// Mistakes returns the guest protocol mistakes seen so far.
func (v *VMX) Mistakes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.mistakes...)
}

// Ops returns the number of port operations (IN, REP INSB, REP OUTSB)
// the guest made so far.
func (v *VMX) Ops() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ops
}

// Rejected returns how many messages the guest refused to receive.
func (v *VMX) Rejected() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rejected
}

// QueueTCLO queues a command for the guest's TCLO channel.
func (v *VMX) QueueTCLO(cmd string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tclo = append(v.tclo, &command{msg: []byte(cmd)})
	v.refillAll()
}

// Command queues cmd for the guest's TCLO channel and waits for the
// guest's reply to it.
func (v *VMX) Command(ctx context.Context, cmd string) (string, error) {
	c := &command{msg: []byte(cmd), reply: make(chan []byte, 1)}
	v.mu.Lock()
	v.tclo = append(v.tclo, c)
	v.refillAll()
	v.mu.Unlock()
	select {
	case r, ok := <-c.reply:
		if !ok {
			return "", fmt.Errorf("%w: command %q", ErrDropped, cmd)
		}
		return string(r), nil
	case <-ctx.Done():
		return "", fmt.Errorf("fakevmx: waiting for the reply to %q: %w", cmd, ctx.Err())
	}
}

// Replies returns the TCLO replies the guest sent so far.
func (v *VMX) Replies() []string { return v.strings(func() [][]byte { return v.replies }) }

// Requests returns the RPCI requests the guest sent so far.
func (v *VMX) Requests() []string { return v.strings(func() [][]byte { return v.requests }) }

// WaitRequests waits until the guest has sent at least n RPCI requests
// and returns them all.
func (v *VMX) WaitRequests(ctx context.Context, n int) ([]string, error) {
	for {
		v.mu.Lock()
		if len(v.requests) >= n {
			v.mu.Unlock()
			return v.Requests(), nil
		}
		ch := v.changedLocked()
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return v.Requests(), fmt.Errorf("fakevmx: waiting for %d RPCI requests: %w", n, ctx.Err())
		}
	}
}

func (v *VMX) changedLocked() chan struct{} {
	if v.changed == nil {
		v.changed = make(chan struct{})
	}
	return v.changed
}

func (v *VMX) notify() {
	if v.changed != nil {
		close(v.changed)
		v.changed = nil
	}
}

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
	v.ops++
	if uint32(r.AX) != backdoor.Magic || uint16(r.DX) != backdoor.LowBandwidthPort {
		r.AX = 0xffffffff // as an absent device reads
		return
	}
	switch uint16(r.CX) {
	case backdoor.CmdGetVersion:
		r.AX, r.BX = 6, backdoor.Magic
		if !v.LeaveECX {
			r.CX = 2
		}
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

func status(r *backdoor.Regs, st uint16) { r.CX = uint64(st) << 16 }

func (v *VMX) message(r *backdoor.Regs) {
	typ := uint16(r.CX >> 16)
	if typ == msgOpen {
		v.open(r)
		return
	}
	id := uint16(r.DX >> 16)
	c := v.chans[id]
	if c == nil || uint32(r.SI) != c.cookieH || uint32(r.DI) != c.ckL {
		v.mistake("message type %d on channel %d with a wrong or stale cookie", typ, id)
		status(r, 0)
		return
	}
	switch typ {
	case msgSendSize:
		v.sendSize(r, c)
	case msgSendPayload:
		v.sendPayload(r, c)
	case msgRecvSize:
		v.recvSize(r, c)
	case msgRecvPayload:
		v.recvPayload(r, c)
	case msgRecvStatus:
		v.recvStatus(r, c)
	case msgClose:
		v.closeChan(id, c)
		status(r, stSuccess)
	default:
		v.mistake("unknown message type %d", typ)
		status(r, 0)
	}
}

func (v *VMX) open(r *backdoor.Regs) {
	if v.chans == nil {
		v.chans = map[uint16]*vchan{}
	}
	v.next++
	c := &vchan{proto: uint32(r.BX) &^ 0x80000000, cookieH: 0x1000 + uint32(v.next), ckL: 0x2000 + uint32(v.next)}
	v.chans[v.next] = c
	r.DX = uint64(v.next) << 16
	r.SI, r.DI = uint64(c.cookieH), uint64(c.ckL)
	status(r, stSuccess)
	v.refill(c)
}

func (v *VMX) closeChan(id uint16, c *vchan) {
	delete(v.chans, id)
	if c.proto == backdoor.ProtoTCLO {
		if c.cmd != nil {
			v.tclo = append([]*command{c.cmd}, v.tclo...) // never delivered
		}
		if v.pending != nil {
			if v.pending.reply != nil {
				close(v.pending.reply)
			}
			v.pending = nil
		}
		v.refillAll()
	}
	v.notify()
}

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
