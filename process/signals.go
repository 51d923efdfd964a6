package process

import (
	"fmt"

	"github.com/guestrpc/guestrpc/internal/linuxsig"
)

// parseSignal returns the Linux number of a signal name ("TERM",
// "SIGTERM") or number, with an error naming the bad input.
func parseSignal(s string) (int, error) {
	n, ok := linuxsig.Number(s)
	if !ok {
		return 0, fmt.Errorf("signal %q: want a name such as TERM or a number 1..64", s)
	}
	return n, nil
}

// signalName returns "SIGTERM" for 15, "SIG34" for a number without a name.
func signalName(n int) string { return linuxsig.Name(n) }
