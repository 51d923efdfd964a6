//go:build !(linux && amd64)

package backdoor

import "fmt"

// OpenPort returns ErrNotSupported: the backdoor needs linux/amd64.
func OpenPort() (Port, error) {
	return nil, fmt.Errorf("backdoor: port I/O: %w", ErrNotSupported)
}

// Detect returns ErrNotSupported off linux/amd64.
func Detect() (Detection, error) {
	return Detection{}, fmt.Errorf("backdoor: detect: %w", ErrNotSupported)
}
