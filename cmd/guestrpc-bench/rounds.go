package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/bench"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// subjects are the things measured side by side in each round.
type subjects struct {
	c              *rpc.Client
	pc             *process.Client
	fc             *files.Client
	q              *bench.QGA // nil without qemu-ga
	echo, up, down *floorConn
	upBuf, downBuf *floorConn // the transfer floors with guestrpc's socket send buffer
	run            *floorConn // runs /bin/true in the floor child
	root           string     // the agent's --root; qemu-ga and the floor child use the same files
	data           []byte     // what each upload sends
	conc           int        // concurrent sys.ping calls
	order          *rand.Rand // draws each interleaved pass's order

	movedAgent, movedQGA int64 // bytes each agent has moved so far
}

// measured are the per-round series, in table order.
type measured struct {
	sysPing, clientPing, concPing, exec, execHere bench.Series
	upload, uploadBuf, download, downloadBuf      bench.Series
}

func newMeasured(size int64, conc int) *measured {
	mib := size >> 20
	return &measured{
		sysPing:    bench.Series{Name: "`sys.ping` call", Unit: "µs", Scale: 1e3, Note: "floor: 16-byte ping-pong with an echo process; qemu-ga: guest-ping"},
		clientPing: bench.Series{Name: "PING/PONG frames (`Client.Ping`)", Unit: "µs", Scale: 1e3, Note: "floor: the same ping-pong"},
		concPing:   bench.Series{Name: fmt.Sprintf("%d concurrent `sys.ping` calls, wall time per call", conc), Unit: "µs", Scale: 1e3},
		exec: bench.Series{Name: "exec /bin/true, output captured", Unit: "ms", Scale: 1e6,
			Note: "floor: the floor child runs it with os/exec and pipes when asked and answers with its exit code; qemu-ga: guest-exec + guest-exec-status polled back to back"},
		execHere: bench.Series{Name: "exec /bin/true, floor in the measuring process", Unit: "ms", Scale: 1e6,
			Note: "the same guestrpc execs; floor: os/exec with pipes in the measuring process itself, which crosses no process boundary"},
		upload:   bench.Series{Name: fmt.Sprintf("upload %d MiB to a new file", mib), Unit: "MB/s", Higher: true, Note: "floor: a child writes the socket's bytes to a file and fsyncs; qemu-ga: 1 MiB base64 chunks"},
		download: bench.Series{Name: fmt.Sprintf("download %d MiB", mib), Unit: "MB/s", Higher: true, Note: "floor: a child sendfiles the file into the socket; qemu-ga: 1 MiB base64 chunks"},
		uploadBuf: bench.Series{Name: fmt.Sprintf("upload %d MiB, floor with guestrpc's socket buffer", mib), Unit: "MB/s", Higher: true,
			Note: "the same guestrpc uploads; floor: as above, with both ends of its socket asking for the send buffer guestrpc's streams ask for (channel.DefaultUnixWriteBuffer)"},
		downloadBuf: bench.Series{Name: fmt.Sprintf("download %d MiB, floor with guestrpc's socket buffer", mib), Unit: "MB/s", Higher: true,
			Note: "the same guestrpc downloads; floor: as above, with both ends of its socket asking for guestrpc's send buffer"},
	}
}

func (m *measured) rows() []bench.Row {
	var rows []bench.Row
	for _, s := range []*bench.Series{&m.sysPing, &m.clientPing, &m.concPing, &m.exec, &m.execHere, &m.upload, &m.uploadBuf, &m.download, &m.downloadBuf} {
		rows = append(rows, s.Row())
	}
	return rows
}

// timed runs fn and returns its duration in nanoseconds.
func timed(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return float64(time.Since(start)), err
}

// sample is one round's timings of one operation, per subject.
type sample struct{ g, f, q []float64 }

// add appends the medians of s to series (NaN-free: an absent subject
// appends nothing).
func (s *sample) addTo(series *bench.Series, floor bool) {
	series.Guestrpc = append(series.Guestrpc, bench.Median(s.g))
	if floor {
		series.Floor = append(series.Floor, bench.Median(s.f))
	}
	if len(s.q) > 0 {
		series.QGA = append(series.QGA, bench.Median(s.q))
	}
}

// timedOp is one operation of an interleaved set, and the samples its
// times go to.
type timedOp struct {
	name string
	fn   func() error
	dst  []*[]float64
}

// interleave runs each op n times in passes of one run each, in an order
// drawn afresh from order for every pass, so that each op follows each
// of the others about equally often. What an op follows matters: one that
// comes right after another process's op finds its own process asleep
// and its caches cold, one that comes after its own process's op finds
// both warm. A rotating start left the cyclic order intact: with
// sys.ping, Client.Ping, the floor and qemu-ga, sys.ping came after
// qemu-ga's ping three passes in four and Client.Ping after sys.ping
// three in four, which put sys.ping at 1.25 times Client.Ping when
// either, measured alone after qemu-ga, takes the same time.
func interleave(n int, ops []timedOp, order *rand.Rand) error {
	for range n {
		for _, op := range shuffled(order, ops) {
			d, err := timed(op.fn)
			if err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
			for _, dst := range op.dst {
				*dst = append(*dst, d)
			}
		}
	}
	return nil
}

// shuffled returns a copy of ops in an order drawn from order.
func shuffled[T any](order *rand.Rand, ops []T) []T {
	out := slices.Clone(ops)
	order.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// newOrder returns the source of interleave's orders: seeded, so a run
// can be repeated op for op.
func newOrder() *rand.Rand { return rand.New(rand.NewPCG(0x6775657374, 0x727063)) }

// agentPings measures n of each of the agent's two kinds of ping,
// sys.ping into call and PING/PONG into ping, each kind in an
// interleaved set of its own beside a floor op (floor makes one that
// records into the kind's sample) and the extra ops. In one set either
// kind would come after the other, its own process warm, where the
// floor's process never comes after itself but at the turn of a pass.
func agentPings(ctx context.Context, c *rpc.Client, n int, order *rand.Rand, call, ping *sample, floor func(dst *[]float64) timedOp, extra ...timedOp) error {
	for _, set := range []struct {
		agent timedOp
		s     *sample
	}{
		{timedOp{"sys.ping", func() error { return c.Call(ctx, "sys.ping", nil, nil) }, []*[]float64{&call.g}}, call},
		{timedOp{"Client.Ping", func() error { _, err := c.Ping(ctx); return err }, []*[]float64{&ping.g}}, ping},
	} {
		ops := append([]timedOp{set.agent, floor(&set.s.f)}, extra...)
		if err := interleave(n, ops, order); err != nil {
			return err
		}
	}
	return nil
}

// pings measures n of each kind of ping beside the echo floor and
// qemu-ga's guest-ping.
func (sub *subjects) pings(ctx context.Context, m *measured, n int) error {
	var sys, cli sample
	var extra []timedOp
	if sub.q != nil {
		extra = append(extra, timedOp{"qemu-ga guest-ping", func() error { return sub.q.Ping(ctx) }, []*[]float64{&sys.q}})
	}
	floor := func(dst *[]float64) timedOp { return timedOp{"floor ping-pong", sub.echo.ping, []*[]float64{dst}} }
	if err := agentPings(ctx, sub.c, n, sub.order, &sys, &cli, floor, extra...); err != nil {
		return err
	}
	sys.addTo(&m.sysPing, true)
	cli.addTo(&m.clientPing, true)
	return nil
}

// concurrent runs n sys.ping calls from sub.conc goroutines and records
// the wall time per call.
func (sub *subjects) concurrent(ctx context.Context, m *measured, n int) error {
	per := max(n/sub.conc, 1)
	errs := make(chan error, sub.conc)
	var wg sync.WaitGroup
	start := time.Now()
	for range sub.conc {
		wg.Go(func() {
			for range per {
				if err := sub.c.Call(ctx, "sys.ping", nil, nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := float64(time.Since(start)) / float64(per*sub.conc)
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("concurrent sys.ping: %w", err)
	}
	m.concPing.Guestrpc = append(m.concPing.Guestrpc, d)
	return nil
}

// execs interleaves n runs of /bin/true each way: through the agent,
// through the floor child, and with os/exec in this process.
func (sub *subjects) execs(ctx context.Context, m *measured, n int) error {
	var s sample
	var here []float64
	var out, errb bytes.Buffer
	ops := []timedOp{
		{"process.start /bin/true", func() error {
			_, err := sub.pc.Run(ctx, process.Spec{Path: "/bin/true"}, nil, &out, &errb)
			return err
		}, []*[]float64{&s.g}},
		{"floor child os/exec /bin/true", sub.run.exec, []*[]float64{&s.f}},
		{"os/exec /bin/true", func() error {
			cmd := exec.CommandContext(ctx, "/bin/true")
			cmd.Stdout, cmd.Stderr = &out, &errb
			return cmd.Run()
		}, []*[]float64{&here}},
	}
	if sub.q != nil {
		ops = append(ops, timedOp{"qemu-ga guest-exec /bin/true", func() error { return qgaTrue(ctx, sub.q) }, []*[]float64{&s.q}})
	}
	if err := interleave(n, ops, sub.order); err != nil {
		return err
	}
	s.addTo(&m.exec, true)
	m.execHere.Guestrpc = append(m.execHere.Guestrpc, bench.Median(s.g))
	m.execHere.Floor = append(m.execHere.Floor, bench.Median(here))
	return nil
}

func qgaTrue(ctx context.Context, q *bench.QGA) error {
	st, _, err := q.Exec(ctx, "/bin/true", nil)
	if err == nil && (st.ExitCode == nil || *st.ExitCode != 0) {
		err = fmt.Errorf("qemu-ga: /bin/true ended with %+v", st)
	}
	return err
}

// mbps turns a transfer of size bytes in d nanoseconds into MB/s.
func mbps(size int64, d float64) float64 { return float64(size) / (d / 1e9) / 1e6 }

// transfers moves one upload and one download each way, in an order
// drawn afresh each round (see interleave).
func (sub *subjects) transfers(ctx context.Context, m *measured) error {
	size := int64(len(sub.data))
	type op struct {
		series  []*bench.Series // the rows a time goes to
		subject int             // 0 guestrpc, 1 floor, 2 qemu-ga
		fn      func() error
	}
	ops := []op{
		{[]*bench.Series{&m.upload, &m.uploadBuf}, 0, func() error {
			_, err := sub.fc.Upload(ctx, bytes.NewReader(sub.data), "up", files.WriteOptions{})
			return err
		}},
		{[]*bench.Series{&m.upload}, 1, func() error { return sub.up.upload(sub.data) }},
		{[]*bench.Series{&m.uploadBuf}, 1, func() error { return sub.upBuf.upload(sub.data) }},
		{[]*bench.Series{&m.download, &m.downloadBuf}, 0, func() error {
			_, err := sub.fc.Download(ctx, "down", io.Discard, files.ReadOptions{})
			return err
		}},
		{[]*bench.Series{&m.download}, 1, func() error { return sub.down.download(size) }},
		{[]*bench.Series{&m.downloadBuf}, 1, func() error { return sub.downBuf.download(size) }},
	}
	if sub.q != nil {
		ops = append(ops,
			op{[]*bench.Series{&m.upload}, 2, func() error {
				_, err := sub.q.Upload(ctx, filepath.Join(sub.root, "qga-up"), bytes.NewReader(sub.data), 1<<20)
				return err
			}},
			op{[]*bench.Series{&m.download}, 2, func() error {
				_, err := sub.q.Download(ctx, filepath.Join(sub.root, "down"), io.Discard, 1<<20)
				return err
			}})
	}
	for _, o := range shuffled(sub.order, ops) {
		d, err := timed(o.fn)
		if err != nil {
			return fmt.Errorf("%s (subject %d): %w", o.series[0].Name, o.subject, err)
		}
		v := mbps(size, d)
		switch o.subject {
		case 0:
			sub.movedAgent += size
		case 2:
			sub.movedQGA += size
		}
		for _, s := range o.series {
			switch o.subject {
			case 0:
				s.Guestrpc = append(s.Guestrpc, v)
			case 1:
				s.Floor = append(s.Floor, v)
			case 2:
				s.QGA = append(s.QGA, v)
			}
		}
	}
	return nil
}
