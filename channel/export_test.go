package channel

// WatchKept reports whether s keeps a registration with a Receive's ctx
// after that Receive has returned (see readWatch).
func WatchKept(s *Stream) bool { return s.rwatch.registered() }
