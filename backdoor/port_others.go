//go:build !(linux && amd64)

package backdoor

import "errors"
import "fmt"

// OpenPort returns errors.ErrUnsupported: the backdoor needs linux/amd64.
func OpenPort() (Port, error) {
	return nil, fmt.Errorf("backdoor: port I/O: %w", errors.ErrUnsupported)
}

// Detect returns errors.ErrUnsupported off linux/amd64.
func Detect() (Detection, error) {
	return Detection{}, fmt.Errorf("backdoor: detect: %w", errors.ErrUnsupported)
}
