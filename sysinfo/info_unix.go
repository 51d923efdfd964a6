//go:build unix

package sysinfo

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func fillPlatformInfo(info *Info) {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		info.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// The listing's own descriptor is among the entries.
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if ents, err := os.ReadDir(dir); err == nil {
			info.FDs = len(ents) - 1
			break
		}
	}
	// /proc/uptime: "seconds.fraction idle"; absent off Linux.
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if sec, err := strconv.ParseFloat(f[0], 64); err == nil {
				info.Uptime = time.Duration(sec * float64(time.Second))
			}
		}
	}
}
