package term_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/process/term"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// An interactive shell in the guest, as guestrpc exec -t runs it: the
// local terminal goes raw, the guest's terminal gets its size, and each
// local resize is passed on. This example is compiled but not run: it
// needs a terminal and an agent.
func ExampleMakeRaw() {
	ctx := context.Background()
	c, err := transport.Dial(ctx, "unix:/run/guestrpc.sock", rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	in := os.Stdin.Fd()
	if !term.IsTerminal(in) {
		fmt.Println("stdin is not a terminal")
		return
	}
	rows, cols, err := term.Size(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	restore, err := term.MakeRaw(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer restore()

	p, err := process.NewClient(c).Start(ctx, process.Spec{Path: "/bin/sh", TTY: true, Rows: rows, Cols: cols}, os.Stdin, os.Stdout, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	winch := make(chan os.Signal, 1)
	term.NotifyResize(winch)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if r, c, err := term.Size(in); err == nil {
				_ = p.Resize(ctx, r, c)
			}
		}
	}()
	res, err := p.Wait()
	restore()
	fmt.Println(res, err)
}
