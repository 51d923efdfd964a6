package vix

import (
	"context"
	"fmt"
	"os/user"
	"strconv"
)

// sysProc is a process as the system lists it.
type sysProc struct {
	pid   int
	cmd   string
	name  string
	user  string
	start int64
}

// pageCache holds ListProcessesEx results too big for one reply
// (OVT's listProcessesResultsTable), at most maxPages of them.
type pageCache struct {
	next  uint32
	pages map[uint32]*page
	order []uint32
}

type page struct {
	buf  []byte
	user string
}

const maxPages = 16

func newPageCache() *pageCache { return &pageCache{next: 1, pages: map[uint32]*page{}} }

func (c *pageCache) add(p *page) uint32 {
	key := c.next
	c.next++
	if c.next == 0 {
		c.next = 1
	}
	if len(c.order) == maxPages {
		delete(c.pages, c.order[0])
		c.order = c.order[1:]
	}
	c.pages[key] = p
	c.order = append(c.order, key)
	return key
}

func (c *pageCache) remove(key uint32) {
	delete(c.pages, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// Paging headers (VixToolsListProcessesEx); the sizes are OVT's.
const (
	firstHeaderFmt = "<key>%d</key><totalSize>%d</totalSize><leftToSend>%d</leftToSend>"
	leftHeaderFmt  = "<leftToSend>%d</leftToSend>"
	firstHeaderLen = len("<key>%u</key><totalSize>%d</totalSize><leftToSend>%d</leftToSend>") + 1 + 3*10
	leftHeaderLen  = len(leftHeaderFmt) + 1 + 10
)

// listProcesses (186): u32 key, offset, numPids; then numPids u64
// pids. Key 0 lists the programs started through VIX that have exited
// (exit code and time kept), then the running processes, each filtered
// by the pids when there are any; a list too long for one reply is kept
// under a key and sent in pages.
func (s *Server) listProcesses(_ context.Context, req *request, user string) ([]byte, error) {
	r, err := body(req, 12)
	if err != nil {
		return nil, err
	}
	key, offset, numPids := r.u32(), r.u32(), r.u32()
	if err := r.done(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *page
	if key != 0 {
		if p = s.pages.pages[key]; p == nil || uint64(offset) > uint64(len(p.buf)) || p.user != user {
			return nil, fail(ErrFail)
		}
	} else {
		if uint64(numPids)*8 != uint64(len(r.b)) {
			return nil, fail(ErrBadBody)
		}
		pids := map[uint64]bool{}
		for range numPids {
			pids[r.u64()] = true
		}
		all := s.procListLocked(pids)
		if len(all)+firstHeaderLen <= maxResult {
			return all, nil
		}
		p, offset = &page{buf: all, user: user}, 0
		key = s.pages.add(p)
	}
	hdr := leftHeaderLen
	if offset == 0 {
		hdr = firstHeaderLen
	}
	left := len(p.buf) - int(offset)
	n := min(left, maxResult-hdr)
	left -= n
	var out []byte
	if offset == 0 {
		out = fmt.Appendf(nil, firstHeaderFmt, key, len(p.buf), left)
	} else {
		out = fmt.Appendf(nil, leftHeaderFmt, left)
	}
	out = append(out, p.buf[offset:int(offset)+n]...)
	if left == 0 {
		s.pages.remove(key)
	}
	return out, nil
}

// procListLocked renders the list. Called with mu held.
func (s *Server) procListLocked(pids map[uint64]bool) []byte {
	want := func(pid int) bool { return len(pids) == 0 || pids[uint64(pid)] }
	var b []byte
	for _, e := range s.procs.exited {
		if want(e.pid) {
			b = appendProc(b, sysProc{pid: e.pid, cmd: e.cmd, name: e.name, user: e.user, start: e.start.Unix()}, e.code, e.end.Unix())
		}
	}
	running, ok := systemProcs()
	for _, e := range s.procs.running {
		if !ok || e.pid >= goFuncPIDBase { // the system lists no Go functions
			running = append(running, sysProc{pid: e.pid, cmd: e.cmd, name: e.name, user: e.user, start: e.start.Unix()})
		}
	}
	for _, p := range running {
		if want(p.pid) {
			b = appendProc(b, p, 0, 0)
		}
	}
	return b
}

func appendProc(b []byte, p sysProc, code int, end int64) []byte {
	b = append(b, "<proc>"...)
	if p.cmd != "" {
		b = fmt.Appendf(b, "<cmd>%s</cmd>", escape(p.cmd))
	}
	return fmt.Appendf(b, "<name>%s</name><pid>%d</pid><user>%s</user><start>%d</start><eCode>%d</eCode><eTime>%d</eTime></proc>",
		escape(p.name), p.pid, escape(p.user), p.start, code, end)
}

// userName is who a program runs as: user, or the agent's own user.
func userName(u string) string {
	if u != "" {
		return u
	}
	if cu, err := user.Current(); err == nil {
		return cu.Username
	}
	return ""
}

func uidName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
