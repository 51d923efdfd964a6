package process_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
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

// TestInterleavedLatency compares the two paths one run at a time, so a
// busy machine slows both alike: LATN=2000 go test -run Interleaved -v.
func TestInterleavedLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LATN"))
	if n == 0 {
		t.Skip("LATN not set")
	}
	c, _ := setup(t, process.Options{})
	ctx := context.Background()
	var r, o []time.Duration
	for range n {
		var out, errb bytes.Buffer
		s := time.Now()
		if _, err := c.Run(ctx, process.Spec{Path: "/bin/true"}, nil, &out, &errb); err != nil {
			t.Fatal(err)
		}
		r = append(r, time.Since(s))
		s = time.Now()
		cmd := exec.Command("/bin/true")
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		o = append(o, time.Since(s))
	}
	slices.Sort(r)
	slices.Sort(o)
	q := func(d []time.Duration, f float64) time.Duration { return d[int(f*float64(len(d)-1))] }
	t.Logf("rpc p10 %v p50 %v p90 %v | os p10 %v p50 %v p90 %v | ratio p50 %.3f p10 %.3f",
		q(r, .1), q(r, .5), q(r, .9), q(o, .1), q(o, .5), q(o, .9),
		float64(q(r, .5))/float64(q(o, .5)), float64(q(r, .1))/float64(q(o, .1)))
}
