package process

import (
	"fmt"
	"strconv"
	"strings"
)

// linuxSignals numbers the signals the way Linux does on amd64 and arm64
// (the guest's numbering, whatever the host runs).
var linuxSignals = [...]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
	9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
	23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO",
	30: "PWR", 31: "SYS",
}

// signalNumber returns the Linux number of a signal name such as "TERM"
// or "SIGTERM" (any case), or of a decimal number 1..64.
func signalNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= 64
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for n, v := range linuxSignals {
		if v != "" && v == name {
			return n, true
		}
	}
	return 0, false
}

// parseSignal is signalNumber with an error naming the bad input.
func parseSignal(s string) (int, error) {
	n, ok := signalNumber(s)
	if !ok {
		return 0, fmt.Errorf("signal %q: want a name such as TERM or a number 1..64", s)
	}
	return n, nil
}

// signalName returns "SIGTERM" for 15, "SIG34" for a number without a name.
func signalName(n int) string {
	if n > 0 && n < len(linuxSignals) {
		return "SIG" + linuxSignals[n]
	}
	return "SIG" + strconv.Itoa(n)
}
