package process

import "time"

// NewServiceNoPidfd is NewService as on kernels without pidfds: the wait
// loop wakes on SIGCHLD alone.
func NewServiceNoPidfd(opts Options) (*Service, error) { return newLinuxService(opts, false) }

// NewServiceShortWait is NewService with d in place of shortWait.
func NewServiceShortWait(opts Options, d time.Duration) (*Service, error) {
	m, err := NewService(opts)
	if err == nil {
		m.sys.shortWait = d
	}
	return m, err
}

// LongWaits is how many calls have waited for their process through the
// netpoller rather than on their own thread.
func (s *Service) LongWaits() uint64 { return s.sys.longWaits.Load() }
