package process_test

import (
	"bytes"
	"context"
	"os/exec"
	"testing"

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
