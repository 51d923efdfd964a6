package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ErrNoField is returned when /proc/PID/status lacks the wanted field.
var ErrNoField = errors.New("bench: field not in status")

// maxStatusBytes caps how much of a status file ParseStatus reads.
const maxStatusBytes = 64 << 10

// ParseStatus returns the value in bytes of a kB field such as "VmRSS"
// or "VmHWM" from the text of /proc/PID/status.
func ParseStatus(r io.Reader, field string) (int64, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxStatusBytes))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("bench: %s: %q is not \"N kB\"", field, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, fmt.Errorf("bench: %s: bad size %q", field, f[0])
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: reading status: %w", err)
	}
	return 0, fmt.Errorf("%w: %s", ErrNoField, field)
}

// ProcStatus reads field (see ParseStatus) of process pid.
func ProcStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return ParseStatus(f, field)
}
