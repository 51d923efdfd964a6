// Package qemu is the end-to-end lab: it makes sure QEMU, a Debian cloud
// kernel and a static busybox are at hand (installing them through apt
// when allowed), builds an initramfs in Go with examples/init as /init
// plus the kernel modules it needs in dependency order, and boots it
// under TCG with the agent's virtio-console port on a unix socket.
//
// Tests call Start and then VM.Ready for a connected client. Without the
// assets they skip, naming what to install; with GUESTRPC_E2E=1 (make
// test, CI) the assets are installed on demand and required.
package qemu
