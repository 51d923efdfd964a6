package rpc

import (
	"errors"
	"io"
	"sync"
)

// Session is the lifetime of one served connection. Handlers that keep
// state for a peer (HGFS sessions and open handles, say) keep it here, so
// that it is released when the connection ends and no other connection
// can reach it.
type Session struct {
	mu     sync.Mutex
	values map[any]any
	order  []any // keys in creation order, closed in reverse
}

// Session returns the session of the connection the call arrived on.
func (c *Request) Session() *Session { return &c.sc.session }

// Value returns the value stored under key, storing create() first if
// there is none. Use an unexported type for key, as with context values.
// A value that implements io.Closer is closed when the connection ends,
// after the last of its handlers has returned.
func (s *Session) Value(key any, create func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	if s.values == nil {
		s.values = make(map[any]any)
	}
	v := create()
	s.values[key] = v
	s.order = append(s.order, key)
	return v
}

// close releases every value, newest first.
func (s *Session) close() error {
	s.mu.Lock()
	values, order := s.values, s.order
	s.values, s.order = nil, nil
	s.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if c, ok := values[order[i]].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
