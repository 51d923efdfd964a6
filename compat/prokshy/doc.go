// Package prokshy speaks prokshy's protocol (github.com/DtxdF/prokshy,
// main.sh and cli.py): a command runner on a virtio-console port. The
// guest side (Server) replaces main.sh, running each command through the
// agent's process.start under the agent's policy; the host side (Run)
// does what cli.py does.
//
// # Protocol
//
// The host writes a command line and an argument line, "CMD\nARG\n" (the
// README says "a command, a space, the data"; main.sh and cli.py use two
// lines, and so does this package). The guest reads the command line,
// strips blanks as read(1) does, and ignores it unless it matches
// ^[a-zA-Z0-9_.-]+$ and names a command — an executable file in the
// command.d directory (Options.Dir) or a Go function registered with
// Register; an ignored line is not followed by an argument read, so the
// next line is read as a command, as in main.sh. It then waits up to
// ArgTimeout (1s, main.sh's read -t 1) for the argument line, runs the
// command with the argument (no newline) on stdin and writes its stdout
// to the port, raw. Its stderr goes to the agent's log.
//
// Limits of the protocol, unchanged: nothing frames the reply and nothing
// reports the exit status (logged here), so the host reads until the port
// has been quiet for a while (RunOptions.Idle, cli.py's 1 s timeout); the
// argument is one line; commands run one at a time, so a command whose
// output the host does not take holds the port until it does. When a terminal
// echoes the request, the reply starts with "CMD\r\nARG\r\n", which Run
// drops as cli.py does.
//
// # Upgrade path
//
// The native protocol runs on the same port: a HELLO (a frame header on
// stream 0 whose first byte is NUL, then "GSRP") is told apart from a
// command name, which never holds a NUL, by its first bytes. The Server
// serves the native session, with framing, exit codes, stdin, files and
// concurrent calls, until the host goes; then it reads lines again. A
// host moves from prokshy to guestrpc without touching the guest.
//
// # Differences
//
//   - An argument line that times out runs the command with an empty
//     argument (as bash's read -t; FreeBSD sh's keeps the previous one)
//     and the rest of that line is dropped when it arrives, never read as
//     a command name.
//   - Lines are capped (MaxLine, 1 MiB); a longer one is dropped through
//     its newline and its command not run.
//   - "." and ".." are valid names but directories, never run (main.sh's
//     [ -x ] takes a directory).
//   - Run refuses an invalid name (ErrBadName) and an argument with a
//     line break (ErrBadArg) instead of sending what the guest ignores or
//     cutting the argument at its first line.
package prokshy
