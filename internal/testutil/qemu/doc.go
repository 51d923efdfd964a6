// Package qemu is the end-to-end lab's test helper: a thin layer over the
// public package vmm/qemu that skips (or, with GUESTRPC_E2E=1, fails) a
// test when the lab is missing, boots the guest for one test, logs its
// console through t.Logf and tears it down when the test ends.
//
// Tests call Start and then VM.Ready for a connected client.
package qemu
