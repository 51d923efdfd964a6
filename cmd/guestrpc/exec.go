package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/process/term"
	"github.com/guestrpc/guestrpc/rpc"
)

// envFlags collects repeated -e K=V.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }

func (e *envFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not K=V", v)
	}
	*e = append(*e, v)
	return nil
}

// fdFile is what *os.File offers for terminal checks.
type fdFile interface{ Fd() uintptr }

// runExec is `guestrpc exec [-t] [-u user] [-e K=V] [-w dir] -- cmd args…`:
// it runs cmd in the guest with this program's stdio and returns the
// remote exit status as its own (128+n when signal n killed it).
func runExec(ctx context.Context, c *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guestrpc exec [-t] [-u USER] [-e K=V]... [-w DIR] [-timeout D] -- CMD [ARGS...]")
		fs.PrintDefaults()
	}
	tty := fs.Bool("t", false, "run the command on a terminal; raw mode locally when stdin is one")
	user := fs.String("u", "", "run as `USER`: a name or uid[:gid]")
	dir := fs.String("w", "", "working `DIR` in the guest")
	timeout := fs.Duration("timeout", 0, "kill the command after this long (0: never)")
	var env envFlags
	fs.Var(&env, "e", "set `K=V` in the command's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2, errors.New("no command given")
	}
	spec := process.Spec{Path: fs.Arg(0), Args: fs.Args()[1:], Env: env, Dir: *dir, User: *user, TTY: *tty, Timeout: *timeout}

	inFd, inTerm := terminalFd(stdin)
	outFd, outTerm := terminalFd(stdout)
	if *tty {
		if outTerm {
			spec.Rows, spec.Cols, _ = term.Size(outFd)
		} else if inTerm {
			spec.Rows, spec.Cols, _ = term.Size(inFd)
		}
		if inTerm {
			restore, err := term.MakeRaw(inFd)
			if err != nil {
				return 1, err
			}
			defer restore()
		}
	}

	sigs := make(chan os.Signal, 4)
	if *tty && (inTerm || outTerm) {
		term.NotifyResize(sigs)
	}
	if !*tty || !inTerm {
		signal.Notify(sigs, os.Interrupt) // Ctrl-C is forwarded; in raw mode it is a byte on stdin
	}
	defer signal.Stop(sigs)

	pc := process.NewClient(c)
	p, err := pc.Start(ctx, spec, stdin, stdout, stderr)
	if err != nil {
		return 1, err
	}
	fd := outFd
	if !outTerm {
		fd = inFd
	}
	stop := relaySignals(ctx, p, sigs, fd)
	_, err = p.Wait()
	stop()
	var e *process.ExitError
	if errors.As(err, &e) {
		if e.TimedOut {
			fmt.Fprintf(stderr, "guestrpc exec: %s: killed after its %v timeout\r\n", spec.Path, *timeout)
		}
		return shellStatus(e), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// relaySignals forwards Ctrl-C (SIGINT) to p and, on a window change,
// the size of the terminal fd, until the returned stop is called.
func relaySignals(ctx context.Context, p *process.Process, sigs <-chan os.Signal, fd uintptr) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case s := <-sigs:
				if s == os.Interrupt {
					_ = p.Signal(ctx, "INT")
					continue
				}
				if rows, cols, err := term.Size(fd); err == nil {
					_ = p.Resize(ctx, rows, cols)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// terminalFd reports whether v is a file on a terminal, and its fd.
func terminalFd(v any) (uintptr, bool) {
	f, ok := v.(fdFile)
	if !ok {
		return 0, false
	}
	fd := f.Fd()
	return fd, term.IsTerminal(fd)
}
