package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// newServer builds the agent with every service a guest offers; as PID 1
// it reaps every orphan. Powering off goes through powerOff, which logs
// the operation and calls reboot(2) directly as PID 1.
//
// On a VMware hypervisor whose backdoor carries messages it also serves
// the VMware toolbox over TCLO (the returned listeners), powering off the
// same way; elsewhere, QEMU's vmport included, it says why not and goes
// on without.
func newAgent(ctx context.Context, log *slog.Logger, policy rpc.Policy) (*agent.Agent, []channel.Listener, func(), error) {
	po := power.Options{
		Logger: log,
		Act:    func(op power.Op) error { return powerOff(log, op) },
	}
	a, err := agent.New(agent.Config{Logger: log, Name: "guestrpc-init", Reap: true, Policy: policy, Power: &po})
	if err != nil {
		return nil, nil, nil, err
	}
	a.RegisterHandler("guest.backdoor", rpc.Unary(probeBackdoor))
	stopCompat := startCompat(ctx, log, a, kernelArgs())
	vm, err := a.ListenVMware(ctx, agent.VMwareOptions{Logger: log, Power: po})
	if err != nil {
		log.Info("not serving the VMware toolbox", "reason", err)
		return a, nil, func() { stopCompat(); a.Close() }, nil
	}
	return a, []channel.Listener{vm.Listener}, func() { vm.Close(); stopCompat(); a.Close() }, nil
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
