// Command setup installs what the QEMU end-to-end suite needs: QEMU
// through apt-get, and a Debian cloud kernel and static busybox unpacked
// into the cache directory. `make test` runs it before the tests.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/guestrpc/guestrpc/vmm/qemu"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	a, err := qemu.Ensure(ctx, true, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qemu-setup:", err)
		os.Exit(1)
	}
	fmt.Printf("qemu lab ready: %s, kernel %s, busybox %s\n", a.QEMU, a.Release, a.Busybox)
}
