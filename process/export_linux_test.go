package process

import "time"

// NewManagerNoPidfd is NewManager as on kernels without pidfds: the wait
// loop wakes on SIGCHLD alone.
func NewManagerNoPidfd(opts Options) (*Manager, error) { return newLinuxManager(opts, false) }

// NewManagerShortWait is NewManager with d in place of shortWait.
func NewManagerShortWait(opts Options, d time.Duration) (*Manager, error) {
	m, err := NewManager(opts)
	if err == nil {
		m.sys.shortWait = d
	}
	return m, err
}

// LongWaits is how many calls have waited for their process through the
// netpoller rather than on their own thread.
func (m *Manager) LongWaits() uint64 { return m.sys.longWaits.Load() }
