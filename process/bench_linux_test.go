package process_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/process"
)

// BenchmarkExecTrue runs /bin/true through process.start over a unix
// socket, with stdout and stderr streamed back.
func BenchmarkExecTrue(b *testing.B) {
	c, _ := setup(b, process.Options{})
	ctx := context.Background()
	var out, errb bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Run(ctx, process.Spec{Path: "/bin/true"}, nil, &out, &errb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOSExecTrue is the floor: os/exec of /bin/true with stdout and
// stderr pipes, in this process.
func BenchmarkOSExecTrue(b *testing.B) {
	var out, errb bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		cmd := exec.Command("/bin/true")
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInterleavedExecTrue alternates one /bin/true through
// process.start with one through os/exec, so a busy machine slows both
// alike, and reports each path's median and their ratio:
// go test -run '^$' -bench Interleaved ./process/.
func BenchmarkInterleavedExecTrue(b *testing.B) {
	c, _ := setup(b, process.Options{})
	ctx := context.Background()
	var r, o []time.Duration
	var out, errb bytes.Buffer
	for b.Loop() {
		s := time.Now()
		if _, err := c.Run(ctx, process.Spec{Path: "/bin/true"}, nil, &out, &errb); err != nil {
			b.Fatal(err)
		}
		r = append(r, time.Since(s))
		s = time.Now()
		cmd := exec.Command("/bin/true")
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		o = append(o, time.Since(s))
	}
	slices.Sort(r)
	slices.Sort(o)
	med := func(d []time.Duration) float64 { return float64(d[len(d)/2]) }
	b.ReportMetric(med(r), "rpc-p50-ns")
	b.ReportMetric(med(o), "os-p50-ns")
	b.ReportMetric(med(r)/med(o), "p50-ratio")
}
