package vsock

import (
	"fmt"
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

// ParsePort parses a vsock port number.
func ParsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("vsock: port %q: %w", s, err)
	}
	return uint32(p), nil
}
