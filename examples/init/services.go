package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// newServer builds the agent with every service a guest offers.
func newServer(ctx context.Context, log *slog.Logger) (*rpc.Server, func(), error) {
	srv := agent.NewServer(agent.Options{Logger: log, Name: "guestrpc-init"})
	power.Register(srv, power.Options{Logger: log})
	srv.RegisterHandler("guest.backdoor", rpc.Unary(probeBackdoor))
	return srv, func() {}, nil
}

// BackdoorProbe is what guest.backdoor reports.
type BackdoorProbe struct {
	backdoor.Detection
	// ChannelError is why opening an RPCI channel failed ("" if it opened).
	ChannelError string `json:"channel_error,omitempty"`
}

// probeBackdoor detects the VMware backdoor and, when present, tries to
// open an RPCI message channel.
func probeBackdoor(ctx context.Context, _ struct{}) (BackdoorProbe, error) {
	d, err := backdoor.Detect()
	if err != nil && !errors.Is(err, backdoor.ErrNoHypervisor) && !errors.Is(err, backdoor.ErrNoBackdoor) {
		return BackdoorProbe{}, rpc.Errorf(rpc.Internal, "backdoor detect: %v", err)
	}
	p := BackdoorProbe{Detection: d}
	if d.Backdoor {
		port, err := backdoor.OpenPort()
		if err != nil {
			return p, rpc.Errorf(rpc.Internal, "backdoor port: %v", err)
		}
		defer port.Close()
		ch, err := backdoor.OpenChannel(port, backdoor.ProtoRPCI)
		if err != nil {
			p.ChannelError = err.Error()
		} else {
			ch.Close()
		}
	}
	return p, nil
}
