package vix

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/process"
)

// procEntry is a program started through VIX.
type procEntry struct {
	id     uint64
	pid    int
	cmd    string // the program's base name
	name   string // the command line
	user   string
	start  time.Time
	exited bool
	code   int
	end    time.Time
	io     *procIO // stdio served as files, or nil
}

// procTable keeps the programs started through VIX, the exited ones up
// to max (oldest dropped first). Guarded by Server.mu.
type procTable struct {
	max     int
	running map[int]*procEntry // by pid
	exited  []*procEntry
}

func newProcTable(max int) *procTable {
	return &procTable{max: max, running: map[int]*procEntry{}}
}

func (t *procTable) exit(e *procEntry) {
	delete(t.running, e.pid)
	if len(t.exited) == t.max {
		t.exited = slices.Delete(t.exited, 0, 1)
	}
	t.exited = append(t.exited, e)
	if n := len(t.exited) - keptIO - 1; n >= 0 && t.exited[n].io != nil {
		t.exited[n].io.abandon() // its unread output goes
		t.exited[n].io = nil
	}
}

// startProgram (185): u8 startMinimized; u32 programPathLength,
// argumentsLength, workingDirLength, numEnvVars, envVarLength; then the
// optional strings and the environment. The program runs as OVT runs
// it, `"path" args` through /bin/sh -c, by process.start; the reply is
// its pid.
func (s *Server) startProgram(ctx context.Context, req *request, user string) ([]byte, error) {
	r, err := body(req, 21)
	if err != nil {
		return nil, err
	}
	r.u8()
	pathLen, argsLen, dirLen, numEnv, envLen := r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
	prog, _ := r.optStr(pathLen)
	args, hasArgs := r.optStr(argsLen)
	dir, _ := r.optStr(dirLen)
	env := r.strs(numEnv, envLen)
	if err := r.done(); err != nil {
		return nil, err
	}
	if prog == "" {
		return nil, fail(ErrInvalidArg)
	}
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			return nil, fail(ErrInvalidArg)
		}
	}
	spec, err := s.programSpec(prog, args, hasArgs)
	if err != nil {
		return nil, err
	}
	spec.Env, spec.Dir, spec.User = env, dir, user
	var pio *procIO
	var stdin io.Reader
	stdout, stderr := io.Writer(io.Discard), io.Writer(io.Discard)
	if s.opts.ProcessIO {
		pio = newProcIO(s.opts.ProcessIOMax)
		stdin, stdout, stderr = pio.stdin, pio.stdout, pio.stderr
	}
	p, err := s.pc.Start(s.ctx, spec, stdin, stdout, stderr)
	if err != nil {
		if pio != nil {
			pio.abandon()
		}
		return nil, err
	}
	pid := p.PID
	if pid == 0 { // a Go function: a pseudo pid above any the kernel gives
		pid = goFuncPIDBase + int(p.ID)
	}
	name := spec.Shell
	if name == "" {
		name = strings.Join(append([]string{prog}, spec.Args...), " ")
	}
	e := &procEntry{id: p.ID, pid: pid, cmd: path.Base(prog), name: name, user: userName(user), start: time.Now(), io: pio}
	s.mu.Lock()
	s.procs.running[pid] = e
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res, _ := p.Wait()
		if pio != nil {
			pio.exited()
		}
		s.mu.Lock()
		e.exited, e.end, e.code = true, time.Now(), -1
		if res != nil {
			e.code, e.start, e.end = res.ExitCode, res.Started, res.Ended
		}
		s.procs.exit(e)
		s.mu.Unlock()
		_ = p.Close()
	}()
	return []byte(strconv.Itoa(pid)), nil
}

// goFuncPIDBase starts the pseudo pids of Go-function processes, past
// Linux's largest pid (4194304).
const goFuncPIDBase = 1 << 23

// programSpec runs a program as OVT does, `"path" args` through
// /bin/sh -c; a name in Options.GoFuncs runs that Go function with the
// arguments as its one argument.
func (s *Server) programSpec(prog, args string, hasArgs bool) (process.Spec, error) {
	if slices.Contains(s.opts.GoFuncs, prog) {
		spec := process.Spec{Path: prog}
		if hasArgs {
			spec.Args = []string{args}
		}
		return spec, nil
	}
	if _, err := os.Stat(prog); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return process.Spec{}, fail(ErrFileNotFound)
		}
		return process.Spec{}, err
	}
	cmdline := `"` + prog + `"`
	if hasArgs {
		cmdline += " " + args
	}
	return process.Spec{Shell: cmdline}, nil
}

// terminateProcess (193): u64 pid, u32 options. Only programs started
// through VIX are killed (process.kill); any other pid is
// NO_SUCH_PROCESS.
func (s *Server) terminateProcess(ctx context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 12)
	if err != nil {
		return nil, err
	}
	pid := r.u64()
	r.u32()
	if err := r.done(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	e := s.procs.running[int(pid)]
	s.mu.Unlock()
	if e == nil || pid > 1<<31 {
		return nil, fail(ErrNoSuchProcess)
	}
	if err := s.pc.Kill(ctx, e.id); err != nil {
		return nil, &vixErr{code: ErrNoSuchProcess, err: err}
	}
	return nil, nil
}

// readEnv (187): u32 numNames, namesLength; then the names. No names
// lists the whole environment; each found name is <ev>K=V</ev>.
func (s *Server) readEnv(_ context.Context, req *request, _ string) ([]byte, error) {
	r, err := body(req, 8)
	if err != nil {
		return nil, err
	}
	names := r.strs(r.u32(), r.u32())
	if err := r.done(); err != nil {
		return nil, err
	}
	env := s.opts.Environ()
	var b []byte
	add := func(kv string) { b = append(append(append(b, "<ev>"...), escape(kv)...), "</ev>"...) }
	if len(names) == 0 {
		for _, kv := range env {
			add(kv)
		}
		return b, nil
	}
	for _, name := range names {
		for _, kv := range env {
			if k, _, ok := strings.Cut(kv, "="); ok && k == name {
				add(kv)
				break
			}
		}
	}
	return b, nil
}

// escape is VixToolsEscapeXMLString: %, ", &, ', < and > become %XX.
func escape(s string) string {
	if !strings.ContainsAny(s, `%"&'<>`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%', '"', '&', '\'', '<', '>':
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
