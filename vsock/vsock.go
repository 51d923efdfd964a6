package vsock

import (
	"fmt"
	"net"
	"strconv"
)

// DefaultPort is the vsock port the agent listens on.
const DefaultPort = 5100

// Well-known context IDs.
const (
	CIDHypervisor = 0
	CIDLocal      = 1 // loopback inside one machine
	CIDHost       = 2
)

// Addr is a vsock address reached through a unix socket.
type Addr struct {
	Socket string // the unix socket
	CID    uint32
	Port   uint32
}

// Network returns "vsock".
func (a Addr) Network() string { return "vsock" }

func (a Addr) String() string {
	s := "vm(" + strconv.FormatUint(uint64(a.CID), 10) + "):" + strconv.FormatUint(uint64(a.Port), 10)
	if a.Socket != "" {
		s += " via " + a.Socket
	}
	return s
}

var _ net.Addr = Addr{}

// ParsePort parses a vsock port number.
func ParsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("vsock: port %q: %w", s, err)
	}
	return uint32(p), nil
}
