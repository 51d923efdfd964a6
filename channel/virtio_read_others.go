//go:build darwin || freebsd

package channel

// readPort reads the port.
func (s *virtioSession) readPort(p []byte) (int, error) { return s.f.Read(p) }
