//go:build !linux

package power

// Supported reports whether op can be done here: nothing off Linux yet.
func Supported(Op) bool { return false }

// Default returns an error wrapping errors.ErrUnsupported off Linux.
func Default(op Op) error { return unsupported(op) }
