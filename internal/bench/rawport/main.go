// Command rawport is the raw side of guestrpc-bench's virtio-serial
// figures: a guest program that only reads and writes a virtio-serial
// port (bench.ServeRaw), so that the port's own speed is measured beside
// guestrpc's over a port of the same kind in the same VM:
//
//	rawport NAME
//
// The host connects to the port before it starts rawport (a port reads
// as end of file while no host is connected); rawport serves jobs until
// the port fails or ends.
package main

import (
	"fmt"
	"os"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/bench"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawport NAME")
		os.Exit(2)
	}
	if err := serve(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "rawport: %v\n", err)
		os.Exit(1)
	}
}

func serve(name string) error {
	path, err := channel.FindVirtioPort(name, channel.VirtioOptions{})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return bench.ServeRawFiles(f, os.TempDir())
}
