// Package linuxsig names and numbers signals the way Linux does on amd64
// and arm64: the guest's numbering, whatever the host runs. Package
// process parses the signals a host sends with it, and cmd/guestrpc turns
// a killing signal into a shell's exit status (128+n).
package linuxsig

import (
	"strconv"
	"strings"
)

// names holds the signals by number.
var names = [...]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
	9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
	23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO",
	30: "PWR", 31: "SYS",
}

// Number returns the number of a signal name such as "TERM" or
// "SIGTERM" (any case), of "SIG34" as Name writes the signals without a
// name, or of a decimal number 1..64.
func Number(s string) (int, bool) {
	if n, ok := number(s); ok {
		return n, true
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, ok := number(name); ok && len(name) < len(s) {
		return n, true
	}
	for n, v := range names {
		if v != "" && v == name {
			return n, true
		}
	}
	return 0, false
}

// number parses a decimal signal number 1..64.
func number(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 64
}

// Name returns "SIGTERM" for 15, "SIG34" for a number without a name.
func Name(n int) string {
	if n > 0 && n < len(names) {
		return "SIG" + names[n]
	}
	return "SIG" + strconv.Itoa(n)
}
