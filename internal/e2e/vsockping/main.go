// Command vsockping runs inside the e2e guest: it dials the agent over
// AF_VSOCK on CID 1 (vsock loopback), pings it, pushes a file through the
// connection, and prints the figures as JSON. With -reverse PORT it plays
// a host that only accepts: it listens on PORT and waits for the agent,
// started with guestrpc.dial=vsock:1:PORT, to connect and serve. With
// -handshake it only connects to -port (retrying while nothing listens
// there yet), shakes hands and pings, and prints the outcome: "OK" or
// the status code of the agent's refusal. The e2e suite runs it with
// process.start to prove package vsock on a real kernel, and that an
// agent refuses vsock peers other than the host unless told.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vsock"
)

// Report is what vsockping prints.
type Report struct {
	Peer        string  `json:"peer"`
	Pings       int     `json:"pings"`
	MedianRTTns int64   `json:"median_rtt_ns"`
	Bytes       int64   `json:"bytes"`
	MiBps       float64 `json:"mib_per_s"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vsockping:", err)
		os.Exit(1)
	}
}

func run() error {
	reverse := flag.Uint("reverse", 0, "listen on this vsock `PORT` for the agent to dial in, instead of dialing it")
	port := flag.Uint("port", vsock.DefaultPort, "the agent's vsock `PORT` on CID 1")
	handshake := flag.Bool("handshake", false, "only shake hands and ping; print the outcome")
	flag.Parse()
	if *handshake {
		return json.NewEncoder(os.Stdout).Encode(tryHandshake(uint32(*port)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ch channel.Channel
	var err error
	if *reverse != 0 {
		ch, err = accept(ctx, uint32(*reverse))
	} else {
		ch, err = vsock.Dial(ctx, vsock.CIDLocal, uint32(*port), channel.StreamOptions{})
	}
	if err != nil {
		return err
	}
	c, err := rpc.NewClient(ctx, ch, rpc.ClientOptions{Name: "vsockping"})
	if err != nil {
		return err
	}
	defer c.Close()
	rep := Report{Peer: c.PeerName(), Pings: 200}
	rtts := make([]time.Duration, 0, rep.Pings)
	for range rep.Pings {
		d, err := c.Ping(ctx)
		if err != nil {
			return err
		}
		rtts = append(rtts, d)
	}
	slices.Sort(rtts)
	rep.MedianRTTns = int64(rtts[len(rtts)/2])

	const size = 32 << 20
	start := time.Now()
	res, err := files.NewClient(c).Upload(ctx, io.LimitReader(zeros{}, size), "/tmp/vsockping.bin", files.WriteOptions{})
	if err != nil {
		return err
	}
	rep.Bytes = res.Size
	rep.MiBps = float64(res.Size) / (1 << 20) / time.Since(start).Seconds()
	os.Remove("/tmp/vsockping.bin")
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// accept waits for the agent's reverse-mode connection on port.
func accept(ctx context.Context, port uint32) (channel.Channel, error) {
	l, err := vsock.Listen(port, channel.StreamOptions{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.Accept(ctx)
}

// Outcome is what -handshake prints.
type Outcome struct {
	Port    uint32 `json:"port"`
	Code    string `json:"code"` // "OK" or the refusal's status code
	Message string `json:"message,omitempty"`
}

func tryHandshake(port uint32) Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := Outcome{Port: port}
	var ch channel.Channel
	var err error
	for ctx.Err() == nil {
		if ch, err = vsock.Dial(ctx, vsock.CIDLocal, port, channel.StreamOptions{}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the agent is still starting
	}
	if err == nil {
		var c *rpc.Client
		if c, err = rpc.NewClient(ctx, ch, rpc.ClientOptions{Name: "vsockping"}); err == nil {
			err = c.Call(ctx, "sys.ping", nil, nil)
			c.Close()
		}
	}
	var re *rpc.Error
	switch {
	case err == nil:
		out.Code = "OK"
	case errors.As(err, &re):
		out.Code, out.Message = re.Code.String(), re.Message
	default:
		out.Code, out.Message = "error", err.Error()
	}
	return out
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
