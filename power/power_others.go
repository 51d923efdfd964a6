//go:build !linux

package power

import "fmt"

// Supported reports whether op can be done here: nothing off Linux yet.
func Supported(Op) bool { return false }

// Default returns ErrNotSupported off Linux.
func Default(op Op) error { return fmt.Errorf("%w: %q", ErrNotSupported, op) }
