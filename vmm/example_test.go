package vmm_test

import (
	"fmt"
	"log"

	"github.com/guestrpc/guestrpc/vmm"
)

// The same VM for hyperkit: its arguments and where the agent answers.
func ExampleHyperkitArgs() {
	cfg := vmm.Config{Kernel: "vmlinuz", Initrd: "initramfs.cpio", StateDir: "/tmp/vm", MemoryMiB: 256}
	args, err := vmm.HyperkitArgs(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(args[len(args)-5])
	fmt.Println(vmm.HyperkitTarget(cfg))
	// Output:
	// 1,virtio-sock,guest_cid=3,path=/tmp/vm,guest_forwards=5100
	// hyperkit:/tmp/vm:3:5100
}
