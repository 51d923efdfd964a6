package channel

// WatchKept reports whether s keeps a registration with a Receive's ctx
// after that Receive has returned (see readWatch).
func WatchKept(s *Stream) bool {
	s.rwatch.mu.Lock()
	defer s.rwatch.mu.Unlock()
	return s.rwatch.stop != nil
}
