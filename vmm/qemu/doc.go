// Package qemu boots a Linux VM running the guestrpc agent under QEMU and
// hands back a connected client: one call from nothing to a VM you can
// exec in.
//
//	vm, c, err := qemu.Boot(ctx, qemu.Config{}, qemu.Guest{Files: "./overlay"})
//	if err != nil { ... }
//	defer vm.Remove()
//	defer vm.Stop()
//	defer c.Close()
//
// Boot finds the lab (Ensure: QEMU, a Debian cloud kernel and a static
// busybox, cached in $GUESTRPC_CACHE or ~/.cache/guestrpc; `make
// e2e-setup` installs them), builds examples/init statically and packs it
// as /init into an initramfs with busybox, the kernel modules it needs,
// your programs and the files of a host directory (BuildInitramfs), then
// starts QEMU (Start) — TCG, or KVM when /dev/kvm can be opened — with the
// agent's virtio-console port on a unix socket in the state directory and,
// with VsockCID set, a vhost-vsock device; and waits for the agent's
// handshake (Machine.Dial).
//
// The state directory holds the port sockets, the initramfs and a JSON
// state file (vmm.State) naming the QEMU process; FromState finds a VM
// again from it, so another program can check (IsRunning), Stop and
// Remove it. The VM dies with its owner: QEMU runs in its own process
// group, is sent SIGKILL by the kernel when the thread that started it
// exits (Linux), and by Stop; Config.Lifetime bounds it in any case.
//
// Building the guest needs the Go toolchain and the guestrpc module
// source (Guest.SourceDir, by default the module of the working
// directory). The same Config emits hyperkit's and Firecracker's
// equivalents: see package vmm.
package qemu
