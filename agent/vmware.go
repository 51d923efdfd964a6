package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/guestrpc/guestrpc/backdoor"
	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/internal/bridge"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
	"github.com/guestrpc/guestrpc/toolbox/vix"
)

// VMware is the toolbox served over the VMware backdoor: Listener yields
// the VMX's TCLO loop, served under toolbox.Policy, to add beside the
// other listeners (Agent.Serve); the toolbox.* methods are on the agent.
type VMware struct {
	Listener channel.Listener
	Toolbox  *toolbox.Service
	VIX      *vix.Server
	vixConn  *bridge.Conn
	stopPoll context.CancelFunc
	polled   chan struct{} // closed when the guest-info poll has returned
	rpci     *backdoor.RPCI
	port     backdoor.Port
}

// VMwareOptions configure ListenVMware.
type VMwareOptions struct {
	Logger *slog.Logger
	// Power performs OS_Halt and OS_Reboot (zero: the system's way).
	Power power.Options
	// Port replaces the real backdoor port (tests: a fake VMX). Nil
	// detects the backdoor and opens the port.
	Port backdoor.Port
	// VIXAuthenticate vets the credentials of VIX guest operations
	// (Vix_1_Relayed_Command), which run on the agent's own handlers as a
	// VMware-transport peer under the agent's policy. Nil refuses every
	// op but GetToolsState with AUTH_FAIL; vix.TrustVMX trusts the VMX, as
	// govmomi does (guestrpc-agent --vmware-trust-vix).
	VIXAuthenticate vix.Authenticator
	// VIXProcessIO serves the stdio of programs started through VIX as
	// the HGFS files /proc/<pid>/stdin, stdout and stderr (on every
	// transport's hgfs.packet), and lets StartProgram run the Go function
	// "vix-roundtrip" (vix.RoundTripFunc).
	VIXProcessIO bool
	// GuestInfoInterval is how often the guest's NICs, DNS name and
	// uptime are gathered and what changed is sent to the VMX, as OVT's
	// guestInfo poll does (zero: 30s, OVT's default; negative: never, so
	// they are sent only when the VMX asks with broadcastIP).
	GuestInfoInterval time.Duration
}

// ErrNoVMware is returned by ListenVMware when the backdoor cannot carry
// the toolbox. It wraps the reason: no hypervisor, no backdoor, a
// backdoor without the message channel (QEMU's vmport answers
// GETVERSION only), or an error wrapping errors.ErrUnsupported off linux/amd64.
var ErrNoVMware = errors.New("agent: no VMware backdoor message channel")

// ListenVMware detects the VMware backdoor and, when its message channel
// answers, registers the toolbox on a, reports the tools version to the
// VMX and returns the TCLO listener. Close releases it after the server
// has shut down.
func (a *Agent) ListenVMware(ctx context.Context, opts VMwareOptions) (*VMware, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	port, err := openBackdoor(opts.Port)
	if err != nil {
		return nil, err
	}
	// Probe the message channel: QEMU's vmport answers GETVERSION and
	// refuses this; a VMX opens it.
	ch, err := backdoor.OpenChannel(port, backdoor.ProtoRPCI)
	if err != nil {
		_ = port.Close()
		return nil, fmt.Errorf("%w: %w", ErrNoVMware, err)
	}
	_ = ch.Close()
	rpci := backdoor.NewRPCI(port, false)
	nic := a.NicInfo
	reporter := nicinfo.NewReporter()
	if opts.Power.Logger == nil {
		opts.Power.Logger = log
	}
	vc, err := bridge.Open(ctx, a.Server, channel.PeerInfo{Transport: channel.TransportVMware}, "vix", nil)
	if err != nil {
		_ = port.Close()
		return nil, fmt.Errorf("agent: VIX: %w", err)
	}
	vo := vix.Options{Logger: log, Client: vc.Client, Authenticate: opts.VIXAuthenticate, ProcessIO: opts.VIXProcessIO}
	if opts.VIXProcessIO && a.Processes != nil {
		a.Processes.RegisterFunc(vixRoundTrip, vix.RoundTripFunc)
		vo.GoFuncs = []string{vixRoundTrip}
	}
	vs, err := vix.New(vo)
	if err != nil {
		_ = vc.Close()
		_ = port.Close()
		return nil, err
	}
	if opts.VIXProcessIO {
		a.HGFS.HandleScheme("file", vs.ProcessIO(hgfs.NewFileSystemHandler(a.Files.Policy())))
	}
	svc, err := toolbox.NewService(toolbox.Options{
		Logger: log,
		RPCI:   rpci,
		Power:  opts.Power,
		VIX:    vs.Handle,
		PrimaryIP: func(ctx context.Context) (string, error) {
			r, err := nic.Result(ctx)
			if err != nil {
				return "", err
			}
			return r.PrimaryIP, nil
		},
		SendNicInfo: func(ctx context.Context, out toolbox.RPCI) error {
			info, err := nic.Info(ctx)
			if err != nil {
				return err
			}
			_, err = reporter.SendNicInfo(ctx, out.Call, info.V3(nicinfo.Select{}), true)
			return err
		},
	})
	if err != nil {
		_ = vs.Close()
		_ = vc.Close()
		_ = port.Close()
		return nil, err
	}
	svc.Register(a.Server)
	if err := svc.Start(ctx); err != nil {
		log.Warn("agent: reporting the tools version to the VMX", "error", err)
	}
	l := backdoor.ListenTCLO(port, backdoor.TCLOOptions{Logger: log, RPCI: rpci})
	v := &VMware{Listener: rpc.WithPolicy(l, toolbox.Policy()), Toolbox: svc, VIX: vs, vixConn: vc, rpci: rpci, port: port, polled: make(chan struct{})}
	v.pollGuestInfo(ctx, log, reporter, opts.GuestInfoInterval)
	return v, nil
}

// pollGuestInfo keeps the VMX's view of the guest's NICs, DNS name and
// uptime current until Close: changed addresses reach vSphere without
// waiting for a broadcastIP.
func (v *VMware) pollGuestInfo(ctx context.Context, log *slog.Logger, r *nicinfo.Reporter, every time.Duration) {
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	v.stopPoll = stop
	if every < 0 {
		close(v.polled)
		return
	}
	go func() {
		defer close(v.polled)
		_ = r.Poll(pctx, v.rpci.Call, every, func() nicinfo.Gather { return nicinfo.Gather{} }, func(err error) {
			log.Debug("agent: sending guest info to the VMX", "error", err)
		})
	}()
}

// vixRoundTrip names vix.RoundTripFunc for StartProgram.
const vixRoundTrip = "vix-roundtrip"

func openBackdoor(p backdoor.Port) (backdoor.Port, error) {
	if p != nil {
		return p, nil
	}
	d, err := backdoor.Detect()
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNoVMware, err)
	case !d.Hypervisor:
		return nil, fmt.Errorf("%w: %w", ErrNoVMware, backdoor.ErrNoHypervisor)
	case !d.Backdoor:
		return nil, fmt.Errorf("%w: %w (hypervisor %q)", ErrNoVMware, backdoor.ErrNoBackdoor, d.Vendor)
	}
	p, err = backdoor.OpenPort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoVMware, err)
	}
	return p, nil
}

// Close stops the toolbox and closes the channels and the port. Shut the
// server down first.
func (v *VMware) Close() error {
	v.stopPoll()
	<-v.polled
	errs := []error{v.Listener.Close(), v.Toolbox.Close(), v.VIX.Close(), v.vixConn.Close(), v.rpci.Close(), v.port.Close()}
	return errors.Join(errs...)
}
