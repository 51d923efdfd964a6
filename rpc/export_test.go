package rpc

import "time"

// NumStreams reports how many streams the client's table holds, so tests
// can check that every way a stream ends retires it.
func (c *Client) NumStreams() int {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.streams.len()
}

// BudgetInUse reports the bytes charged to srv's memory budget.
func BudgetInUse(srv *Server) int64 { return srv.budget.inUse() }

// Buffered reports the DATA bytes s has received and not yet handed to
// its reader.
func Buffered(s *Stream) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buffered
}

// CallerReads reports whether a waiting goroutine, not the background
// reader, is reading c's connection.
func CallerReads(c *Client) bool {
	c.reader.rmu.Lock()
	defer c.reader.rmu.Unlock()
	return c.reader.role == roleCaller
}

// SetRefusalWait sets how long srv's refusals wait for a peer's HELLO,
// so a test can hold refusals under way for as long as it needs them.
// Call it before srv serves.
func SetRefusalWait(srv *Server, d time.Duration) { srv.refuseFor = d }

// RefusalsUnderWay reports how many connections srv is refusing by who
// they are, waiting for their HELLO.
func RefusalsUnderWay(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.nrefusing
}

// NumPings reports how many PINGs the client's table holds.
func (c *Client) NumPings() int { return c.pingsInFlight() }
