package vix

import (
	"bytes"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// maxSysProcs bounds the processes read from /proc.
const maxSysProcs = 100_000

// systemProcs lists the running processes from /proc: the base name of
// the program, the command line, the owner and the start time.
func systemProcs() ([]sysProc, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	boot := bootTime()
	users := map[int]string{}
	var out []sysProc
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || len(out) == maxSysProcs {
			continue
		}
		p, ok := readProc(pid, boot, users)
		if ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b sysProc) int { return a.pid - b.pid })
	return out, true
}

func readProc(pid int, boot int64, users map[int]string) (sysProc, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	fi, err := os.Stat(dir)
	if err != nil {
		return sysProc{}, false
	}
	p := sysProc{pid: pid}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid := int(st.Uid)
		if _, ok := users[uid]; !ok {
			users[uid] = uidName(uid)
		}
		p.user = users[uid]
	}
	cmdline, _ := os.ReadFile(dir + "/cmdline")
	cmdline = bytes.TrimRight(cmdline, "\x00")
	stat, _ := os.ReadFile(dir + "/stat")
	comm, fields := splitStat(stat)
	if len(cmdline) > 0 {
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		p.cmd = path.Base(string(argv0))
		p.name = string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	} else {
		p.cmd, p.name = comm, "["+comm+"]"
	}
	// starttime is field 22, the 20th after the comm.
	if len(fields) > 19 {
		if ticks, err := strconv.ParseInt(fields[19], 10, 64); err == nil {
			p.start = boot + ticks/100
		}
	}
	return p, true
}

// splitStat returns the comm of /proc/pid/stat and the fields after it.
func splitStat(b []byte) (string, []string) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", nil
	}
	return string(b[i+1 : j]), strings.Fields(string(b[j+1:]))
}

func bootTime() int64 {
	b, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
