package wire

import (
	"errors"
	"fmt"
)

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 10

const (
	// DefaultMaxPayload is the payload cap a peer assumes until the
	// HELLO exchange says otherwise.
	DefaultMaxPayload = 1 << 20
	// MinMaxPayload is the smallest payload cap a peer may announce; every
	// control frame fits in it.
	MinMaxPayload = 16 << 10
	// LimitMaxPayload is the largest payload cap a peer may announce.
	LimitMaxPayload = 16 << 20
)

// Type is the frame type.
type Type uint8

// Frame types. The numbering is part of the protocol.
const (
	TypeHello  Type = 1 // connection handshake, first frame both ways
	TypeOpen   Type = 2 // open a stream: method, args, timeout
	TypeData   Type = 3 // stream bytes
	TypeClose  Type = 4 // half-close the sender's direction
	TypeStatus Type = 5 // final status of a stream
	TypeCancel Type = 6 // abandon a stream
	TypeWindow Type = 7 // flow-control credit
	TypePing   Type = 8 // liveness probe
	TypePong   Type = 9 // reply to PING
)

var typeNames = [...]string{
	TypeHello: "HELLO", TypeOpen: "OPEN", TypeData: "DATA", TypeClose: "CLOSE",
	TypeStatus: "STATUS", TypeCancel: "CANCEL", TypeWindow: "WINDOW",
	TypePing: "PING", TypePong: "PONG",
}

// Valid reports whether t is a known frame type.
func (t Type) Valid() bool { return t >= TypeHello && t <= TypePong }

func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Flags modify a frame.
type Flags uint8

const (
	// FlagFin marks the sender's last frame on a stream direction: an OPEN
	// or DATA frame carrying it also half-closes, saving a CLOSE frame.
	FlagFin Flags = 0x01
	// FlagsReserved are the bits a sender leaves zero; a receiver ends the
	// connection on a frame that sets any.
	FlagsReserved Flags = 0x0e
	// laneShift places a DATA frame's lane in the upper nibble.
	laneShift = 4
	// MaxLane is the highest DATA lane.
	MaxLane = 15
)

// Lane returns the DATA lane encoded in f.
func (f Flags) Lane() uint8 { return uint8(f) >> laneShift }

// WithLane returns f with its lane set to lane (0..MaxLane).
func (f Flags) WithLane(lane uint8) Flags {
	return Flags(uint8(f)&0x0f | (lane&MaxLane)<<laneShift)
}

// Frame is one protocol frame. A decoded Frame's Payload aliases the
// Decoder's buffer and is valid only until the next Decode.
type Frame struct {
	StreamID uint32
	Type     Type
	Flags    Flags
	Payload  []byte
}

func (f *Frame) String() string {
	return fmt.Sprintf("%v stream=%d flags=%#x len=%d", f.Type, f.StreamID, uint8(f.Flags), len(f.Payload))
}

// Errors returned by the codec. Use errors.Is to test for them.
var (
	// ErrFrameTooLarge is returned when a frame's payload exceeds the cap.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrUnknownType is returned for a frame type this version does not know.
	ErrUnknownType = errors.New("wire: unknown frame type")
	// ErrMalformed is returned when a payload does not match its type's layout.
	ErrMalformed = errors.New("wire: malformed payload")
)
