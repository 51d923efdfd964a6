//go:build !linux && !darwin && !freebsd

package channel

import "errors"

// peerCred is not available here: unix peers have no known credentials,
// and rpc.Policy refuses them unless configured otherwise.
func peerCred(fd int) (uid, gid uint32, pid int32, err error) {
	return 0, 0, 0, errors.ErrUnsupported
}
