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
	opens    map[uint32]int
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

// Opens returns how many channels of protocol proto the guest opened.
func (v *VMX) Opens(proto uint32) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.opens[proto]
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
	if v.opens == nil {
		v.opens = map[uint32]int{}
	}
	v.next++
	c := &vchan{proto: uint32(r.BX) &^ 0x80000000, cookieH: 0x1000 + uint32(v.next), ckL: 0x2000 + uint32(v.next)}
	v.chans[v.next] = c
	v.opens[c.proto]++
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
