package process

// NewManagerNoPidfd is NewManager as on kernels without pidfds: the wait
// loop wakes on SIGCHLD alone.
func NewManagerNoPidfd(opts Options) (*Manager, error) { return newLinuxManager(opts, false) }
