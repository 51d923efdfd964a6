package rpc

import "sync/atomic"

// budget counts bytes that peers make the server hold, across all
// connections, against a limit. A nil *budget (the client's) is
// unlimited.
type budget struct {
	limit int64
	used  atomic.Int64
}

// take charges n bytes; it reports false, charging nothing, when that
// would exceed the limit.
func (b *budget) take(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n bytes taken earlier.
func (b *budget) give(n int64) {
	if b != nil && n > 0 {
		b.used.Add(-n)
	}
}

// inUse returns the bytes charged now.
func (b *budget) inUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}
