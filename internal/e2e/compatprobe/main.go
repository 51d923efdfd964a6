// Command compatprobe runs inside the e2e guest and plays the host of a
// seed protocol over AF_VSOCK loopback (CID 1), printing what it saw as
// JSON:
//
//	compatprobe matchlock        matchlock's client against the agent's port 5000
//	compatprobe vsockexec PORT   a vsock_guest_exec host: accept the agent on PORT, send commands
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	mdvsock "github.com/mdlayher/vsock"

	"github.com/guestrpc/guestrpc/compat/matchlock"
	"github.com/guestrpc/guestrpc/compat/vsockexec"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rep any
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "matchlock":
		rep, err = probeMatchlock(ctx)
	case len(os.Args) == 3 && os.Args[1] == "vsockexec":
		rep, err = probeVsockExec(ctx, os.Args[2])
	default:
		err = errors.New("usage: compatprobe matchlock | vsockexec PORT")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compatprobe:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
}

// MatchlockReport is what compatprobe matchlock prints.
type MatchlockReport struct {
	Exec        string `json:"exec"`
	ExitCode    int    `json:"exit_code"`
	StreamBytes int    `json:"stream_bytes"`
	FileSame    bool   `json:"file_same"`
	Listed      bool   `json:"listed"`
}

func probeMatchlock(ctx context.Context) (*MatchlockReport, error) {
	cl := matchlock.NewClient(func(context.Context) (net.Conn, error) {
		return mdvsock.Dial(1, matchlock.PortExec, nil)
	}, matchlock.ClientOptions{})
	var rep MatchlockReport
	var resp *matchlock.ExecResponse
	var err error
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(50 * time.Millisecond) {
		if resp, err = cl.Exec(ctx, matchlock.ExecRequest{Command: "echo $GREETING; exit 3", Env: map[string]string{"GREETING": "hi"}}); err == nil {
			break // the agent may still be starting
		}
	}
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	rep.Exec, rep.ExitCode = string(resp.Stdout), resp.ExitCode
	var out bytes.Buffer
	if _, err := cl.ExecStream(ctx, matchlock.ExecRequest{Command: "head -c 4194304 /dev/zero"}, &out, nil); err != nil {
		return nil, fmt.Errorf("exec_stream: %w", err)
	}
	rep.StreamBytes = out.Len()
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	if err := cl.WriteFile(ctx, "/tmp/matchlock/probe.bin", bytes.NewReader(data), int64(len(data)), 0o600); err != nil {
		return nil, fmt.Errorf("write_file: %w", err)
	}
	var back bytes.Buffer
	if _, err := cl.ReadFile(ctx, "/tmp/matchlock/probe.bin", &back); err != nil {
		return nil, fmt.Errorf("read_file: %w", err)
	}
	rep.FileSame = bytes.Equal(back.Bytes(), data)
	list, err := cl.ListFiles(ctx, "/tmp/matchlock")
	if err != nil {
		return nil, fmt.Errorf("list_files: %w", err)
	}
	rep.Listed = len(list) == 1 && list[0].Name == "probe.bin" && list[0].Size == int64(len(data))
	return &rep, nil
}

// VsockExecReport is what compatprobe vsockexec prints.
type VsockExecReport struct {
	Lines []string `json:"lines"`
}

func probeVsockExec(ctx context.Context, portArg string) (*VsockExecReport, error) {
	port, err := strconv.ParseUint(portArg, 10, 32)
	if err != nil {
		return nil, err
	}
	l, err := vsockexec.ListenVsock(uint32(port))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	g, err := vsockexec.Accept(ctx, l)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	const out = "/tmp/vsockexec.out"
	_ = os.Remove(out)
	for _, cmd := range []string{"echo first > " + out, "echo second >> " + out} {
		if err := g.Send(ctx, cmd); err != nil {
			return nil, err
		}
	}
	for ctx.Err() == nil {
		b, _ := os.ReadFile(out)
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) == 2 {
			return &VsockExecReport{Lines: lines}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("the commands did not run: %w", ctx.Err())
}
