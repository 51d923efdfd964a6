package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// maxLanes is how many lanes a stream has (rpc.Lane 0 to 15).
const maxLanes = 16

// runCall is `guestrpc call [-i] METHOD [JSON]`.
func runCall(ctx context.Context, c *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := newFlags("call", "[-i] METHOD [JSON]", "Calls any method the agent registered (`info` lists them) with JSON as its arguments.\n"+
		"DATA the method sends on lane 0 goes to stdout, other lanes to stderr; with -i, stdin is sent\n"+
		"as DATA, then end of input. The result (JSON) goes to stdout when the method sent no DATA there,\n"+
		"else to stderr; a null result is not printed. The status follows the method's error code.", stderr)
	withStdin := fset.Bool("i", false, "send stdin to the method as DATA")
	if err := parse(fset, args, 1, 2); err != nil {
		return exitUsage, err
	}
	var params any
	if fset.NArg() == 2 {
		raw := json.RawMessage(fset.Arg(1))
		if !json.Valid(raw) {
			return exitUsage, usageErrorf("call %s: arguments %q are not JSON", fset.Arg(0), fset.Arg(1))
		}
		params = raw
	}
	s, err := c.Open(ctx, fset.Arg(0), params)
	if err != nil {
		return exitFor(err), err
	}
	defer s.Close()
	defer context.AfterFunc(ctx, func() { s.CloseWithError(ctx.Err()) })()
	if *withStdin {
		go func() {
			if _, err := io.Copy(s, stdin); err == nil {
				_ = s.CloseWrite()
			}
		}()
	} else if err := s.CloseWrite(); err != nil {
		return exitFor(err), err
	}
	res, wrote, err := drainCall(s, stdout, &syncWriter{w: stderr})
	if err != nil {
		return exitFor(err), err
	}
	if len(res) > 0 && !bytes.Equal(res, []byte("null")) {
		w := stdout
		if wrote {
			w = stderr
		}
		fmt.Fprintf(w, "%s\n", res)
	}
	return exitOK, nil
}

// drainCall copies lane 0 to stdout and the other lanes to stderr until
// the call ends, and returns its result and whether lane 0 had DATA.
// Every lane is read, so that a method writing to one no one expects
// cannot stall the stream's flow control.
func drainCall(s *rpc.Stream, stdout, stderr io.Writer) (json.RawMessage, bool, error) {
	var wg sync.WaitGroup
	for lane := rpc.Lane(1); lane < maxLanes; lane++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(stderr, s.LaneReader(lane))
		}()
	}
	n, cerr := io.Copy(stdout, s)
	wg.Wait()
	var res json.RawMessage
	if err := s.Wait(&res); err != nil {
		return nil, n > 0, err
	}
	if cerr != nil {
		return nil, n > 0, fmt.Errorf("writing the method's DATA: %w", cerr)
	}
	return res, n > 0, nil
}

// runHalt is `guestrpc halt [-delay D]`.
func runHalt(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	return runPower(ctx, c, power.Halt, args, stderr)
}

// runReboot is `guestrpc reboot [-delay D]`.
func runReboot(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, _, stderr io.Writer) (int, error) {
	return runPower(ctx, c, power.Reboot, args, stderr)
}

// runPower asks the agent for op; it acts after replying, so status 0
// means the guest accepted and is about to go down.
func runPower(ctx context.Context, c *rpc.Client, op power.Op, args []string, stderr io.Writer) (int, error) {
	fset := newFlags(string(op), "[-delay D]", fmt.Sprintf("Asks the guest to %s; status 0 means it accepted and acts after the delay.", op), stderr)
	delay := fset.Duration("delay", 0, "wait this long after replying (0: the agent's default, 200ms; at most 1h)")
	if err := parse(fset, args, 0, 0); err != nil {
		return exitUsage, err
	}
	if *delay < 0 {
		return exitUsage, usageErrorf("-delay %v is negative", *delay)
	}
	pc := power.NewClient(c)
	do := pc.Halt
	if op == power.Reboot {
		do = pc.Reboot
	}
	err := do(ctx, *delay)
	return exitFor(err), err
}
