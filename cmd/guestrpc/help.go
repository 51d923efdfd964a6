package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// usage prints the global usage: the verbs, the flags, the exit statuses.
func usage(fs *flag.FlagSet, cmds map[string]command) {
	w := fs.Output()
	fmt.Fprintln(w, "usage: guestrpc --connect TARGET VERB [FLAGS] [ARGS]\n       guestrpc help [VERB]\n\nverbs:")
	for _, name := range sortedKeys(cmds) {
		fmt.Fprintf(w, "  %-9s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
	fmt.Fprintln(w)
	printExitStatuses(w)
}

// runHelp is `guestrpc help [VERB]`: the usage on stdout, status 0.
func runHelp(ctx context.Context, fs *flag.FlagSet, cmds map[string]command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fs.SetOutput(stdout)
		usage(fs, cmds)
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if len(args) > 1 || !ok {
		fmt.Fprintf(stderr, "guestrpc help: want one verb of: %v\n", sortedKeys(cmds))
		return exitUsage
	}
	if _, err := cmd.run(ctx, nil, []string{"-help"}, nil, stdout, stdout); !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "guestrpc help %s: the verb printed no usage (%v)\n", args[0], err)
		return exitFailed
	}
	return exitOK
}

// newFlags returns a flag set for a verb whose usage shows synopsis,
// then about (when not empty), then the flags.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: guestrpc %s %s\n", name, synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", about)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args into fs and checks that between minArgs and maxArgs
// (-1: any number) arguments remain.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n := fs.NArg(); n < minArgs || (maxArgs >= 0 && n > maxArgs) {
		fs.Usage()
		return usageErrorf("%s: %d arguments %q", fs.Name(), n, fs.Args())
	}
	return nil
}
