// Package testutil holds helpers shared by guestrpc's tests: an rpc
// server and client joined by a real unix socket. Subpackages hold the
// QEMU harness, hypervisor fakes and fault-injecting connections.
package testutil
