package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm/qemu"
)

// Boot a VM with the agent as PID 1, run a command in it, tear it down.
func ExampleBoot() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	vm, c, err := qemu.Boot(ctx, qemu.Config{}, qemu.Guest{}, rpc.ClientOptions{Name: "example"})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = vm.Remove() }()
	defer func() { _ = vm.Stop() }()
	defer c.Close()
	var out bytes.Buffer
	if _, err := process.NewClient(c).Run(ctx, process.Spec{Path: "uname", Args: []string{"-r"}}, nil, &out, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
}
