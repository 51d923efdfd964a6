// Package e2e boots examples/init as PID 1 in QEMU and drives it from the
// host over the virtio-console port, through the same client users have.
//
// The tests need QEMU and a kernel (see internal/testutil/qemu). Plain
// `go test ./...` skips them when those are absent; `make test` sets
// GUESTRPC_E2E=1, installs what is missing, and requires them.
package e2e
