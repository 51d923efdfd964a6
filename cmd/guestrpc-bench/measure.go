package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/guestrpc/guestrpc/internal/bench"
)

// measure runs everything and returns the report.
func measure(ctx context.Context, o *options, stderr io.Writer) (*bench.Report, error) {
	load0 := readTrim("/proc/loadavg")
	start := time.Now()
	e, err := setup(ctx, o, stderr)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return nil, err
	}
	sub := e.sub
	idle, err := idleRSS(ctx, e)
	if err != nil {
		return nil, err
	}
	m := newMeasured(int64(len(sub.data)), o.conc)
	if err := warmUp(ctx, sub, o); err != nil {
		return nil, err
	}
	for r := range o.rounds {
		fmt.Fprintf(stderr, "round %d/%d (load %s)\n", r+1, o.rounds, readTrim("/proc/loadavg"))
		if err := oneRound(ctx, sub, m, o); err != nil {
			return nil, fmt.Errorf("round %d: %w", r+1, err)
		}
	}
	fmt.Fprintf(stderr, "moving %d MiB through each agent for the RSS figure\n", o.movedMiB)
	if err := sub.topUp(ctx, o.movedMiB<<20); err != nil {
		return nil, fmt.Errorf("moving data: %w", err)
	}
	after := rssSeries("after moving data",
		fmt.Sprintf("guestrpc moved %d MiB, qemu-ga %d MiB, half each way; read %v after the last transfer", sub.movedAgent>>20, sub.movedQGA>>20, settle))
	if err := readRSS(e, &after); err != nil {
		return nil, err
	}
	rows := append(m.rows(), idle[0].Row(), after[0].Row(), idle[1].Row(), after[1].Row())
	size, err := sizeRow(e.agentBin, e.qgaBin)
	if err != nil {
		return nil, err
	}
	rows = append(rows, size)
	if o.idle > 0 {
		fmt.Fprintf(stderr, "opening %d idle connections\n", o.idle)
		ic, err := idleConns(ctx, e.agent, e.agentSock(), o.idle)
		if err != nil {
			return nil, err
		}
		rows = append(rows, ic...)
	}
	if !o.noQEMU {
		qr, notes, err := qemuRows(ctx, o, stderr)
		if err != nil {
			return nil, err
		}
		rows, e.notes = append(rows, qr...), append(e.notes, notes...)
	}
	rep := &bench.Report{Rounds: o.rounds, Rows: rows, Notes: e.notes}
	rep.Machine = machine(e, o)
	rep.Machine["load average (1, 5, 15 min) before"] = firstFields(load0, 3)
	rep.Machine["load average (1, 5, 15 min) after"] = firstFields(readTrim("/proc/loadavg"), 3)
	rep.Machine["run time"] = time.Since(start).Round(time.Second).String()
	return rep, nil
}

func oneRound(ctx context.Context, sub *subjects, m *measured, o *options) error {
	if err := sub.pings(ctx, m, o.pings); err != nil {
		return err
	}
	if err := sub.concurrent(ctx, m, o.pings); err != nil {
		return err
	}
	if err := sub.execs(ctx, m, o.execs); err != nil {
		return err
	}
	return sub.transfers(ctx, m)
}

// warmUp runs a few of each latency operation, not recorded.
func warmUp(ctx context.Context, sub *subjects, o *options) error {
	scratch := newMeasured(int64(len(sub.data)), o.conc)
	if err := sub.pings(ctx, scratch, 50); err != nil {
		return err
	}
	if err := sub.concurrent(ctx, scratch, 50); err != nil {
		return err
	}
	return sub.execs(ctx, scratch, 3)
}

// idleRSS reads each agent's memory after its first call.
func idleRSS(ctx context.Context, e *env) ([2]bench.Series, error) {
	note := fmt.Sprintf("after connecting and one ping, %v quiet", settle)
	s := rssSeries("idle", note)
	if err := e.sub.c.Call(ctx, "sys.ping", nil, nil); err != nil {
		return s, err
	}
	if e.sub.q != nil {
		if err := e.sub.q.Ping(ctx); err != nil {
			return s, err
		}
	}
	return s, readRSS(e, &s)
}

// rssSeries are the RSS and anonymous-RSS series for one moment.
func rssSeries(when, note string) [2]bench.Series {
	return [2]bench.Series{
		{Name: "RSS " + when, Unit: "MB", Scale: 1e6, Note: note},
		{Name: "anonymous RSS " + when, Unit: "MB", Scale: 1e6,
			Note: "RssAnon: the process's private memory, without the mapped binary and shared libraries"},
	}
}

// readRSS reads VmRSS and RssAnon of each agent after settling.
func readRSS(e *env, s *[2]bench.Series) error {
	time.Sleep(settle)
	for _, a := range []struct {
		c   *child
		dst func(*bench.Series) *[]float64
	}{
		{e.agent, func(s *bench.Series) *[]float64 { return &s.Guestrpc }},
		{e.qga, func(s *bench.Series) *[]float64 { return &s.QGA }},
	} {
		if a.c == nil {
			continue
		}
		for i, field := range []string{"VmRSS", "RssAnon"} {
			v, err := bench.ProcStatus(a.c.pid(), field)
			if err != nil {
				return fmt.Errorf("%s: %w", a.c.name, err)
			}
			*a.dst(&s[i]) = []float64{float64(v)}
		}
	}
	return nil
}

// machine describes where the figures come from.
func machine(e *env, o *options) map[string]string {
	m := map[string]string{
		"cores":  fmt.Sprint(runtime.NumCPU()),
		"kernel": readTrim("/proc/sys/kernel/osrelease"),
		"go":     runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"rounds": fmt.Sprintf("%d interleaved; per round %d pings of each kind, %d execs each way, one %d MiB transfer each way per subject", o.rounds, o.pings, o.execs, o.sizeMiB),
		"files":  o.dir + " (" + fsType(o.dir) + ")",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if e.qgaBin != "" {
		if out, err := exec.Command(e.qgaBin, "--version").Output(); err == nil {
			m["qemu-ga"] = firstLine(string(out))
		}
	}
	return m
}

func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "?"
	}
	best, typ := "", "?"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(dir, f[1]) && len(f[1]) >= len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func firstFields(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
