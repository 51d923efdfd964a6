package backdoor

import (
	"errors"
)

// Protocol constants.
const (
	// Magic is the value a backdoor call carries in EAX, and GETVERSION
	// returns in EBX.
	Magic = 0x564D5868
	// LowBandwidthPort carries register-sized commands.
	LowBandwidthPort = 0x5658
	// HighBandwidthPort carries REP INSB/OUTSB transfers.
	HighBandwidthPort = 0x5659

	CmdGetVersion = 10
	CmdMessage    = 30
	cmdHBMessage  = 0 // high-bandwidth message command, in BX low 16 bits

	// ProtoRPCI and ProtoTCLO name a message channel's protocol.
	ProtoRPCI = 0x49435052 // "RPCI"
	ProtoTCLO = 0x4f4c4354 // "TCLO"

	flagCookie = 0x80000000
)

// Message types (CX high 16 bits) and status bits (CX high 16 bits of
// the reply).
const (
	msgOpen = iota
	msgSendSize
	msgSendPayload
	msgRecvSize
	msgRecvPayload
	msgRecvStatus
	msgClose

	statusSuccess    = 0x0001
	statusDoRecv     = 0x0002
	statusCheckpoint = 0x0010
	statusHighBW     = 0x0080
)

// Errors. Use errors.Is to test for them. Off linux/amd64 the port
// operations return an error wrapping errors.ErrUnsupported.
var (
	ErrNoHypervisor = errors.New("backdoor: the CPU reports no hypervisor")
	ErrNoBackdoor   = errors.New("backdoor: the hypervisor does not answer the backdoor")
	ErrChannel      = errors.New("backdoor: message channel failed")
	ErrTooLarge     = errors.New("backdoor: message too large")
)

// MaxMessage caps a received message; the VMX's own limit is far below.
const MaxMessage = 1 << 20

// Regs are the registers of one backdoor call. The protocol uses the low
// 32 bits, except for buffer addresses in high-bandwidth calls.
type Regs struct {
	AX, BX, CX, DX, SI, DI, BP uint64
}

// Port performs backdoor calls. The real one executes IN / REP INSB /
// REP OUTSB; tests use a fake VMX.
type Port interface {
	// InOut executes IN on the low-bandwidth port with r loaded, and
	// stores the resulting registers back into r.
	InOut(r *Regs)
	// HighBandwidthOut sends buf with REP OUTSB (SI points at buf).
	HighBandwidthOut(r *Regs, buf []byte)
	// HighBandwidthIn receives into buf with REP INSB (DI points at buf).
	HighBandwidthIn(r *Regs, buf []byte)
	// Close releases the port.
	Close() error
}

func hi16(v uint64) uint16    { return uint16(v >> 16) }
func hilo(h, l uint16) uint64 { return uint64(h)<<16 | uint64(l) }
