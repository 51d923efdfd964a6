package toolbox

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/rpc"
)

// A state change the VMX asks for (powerops.h: GUESTOS_STATECHANGE_*).
type powerOp struct {
	cmd   string
	state int
	op    power.Op // "" for those the guest only acknowledges
	log   string
}

var powerOps = []powerOp{
	{"OS_Halt", 1, power.Halt, "Initiating halt."},
	{"OS_Reboot", 2, power.Reboot, "Initiating reboot."},
	{"OS_PowerOn", 3, "", ""},
	{"OS_Resume", 4, "", ""},
	{"OS_Suspend", 5, "", ""},
}

// errInProgress is powerOps.c's answer while a state change runs.
var errInProgress = rpc.Errorf(rpc.FailedPrecondition, "State change already in progress")

// stateChangeOp reports the state change to the VMX (tools.os.statechange.status),
// then, for halt and reboot, acts after the reply through power's hooks.
// Until the action ran, another state change is refused.
func (s *Service) stateChangeOp(ctx context.Context, p powerOp) ([]byte, error) {
	s.mu.Lock()
	if s.stateChange != 0 {
		s.mu.Unlock()
		return nil, errInProgress
	}
	s.stateChange = p.state
	s.mu.Unlock()
	supported := p.op == "" || s.opts.Power.Act != nil || power.Supported(p.op)
	_ = s.send(ctx, msgStateChange(supported, p.state))
	if !supported {
		s.done()
		return nil, rpc.Errorf(rpc.FailedPrecondition, "%s: power %s is not supported on %s: %w", p.cmd, p.op, runtime.GOOS, errors.ErrUnsupported)
	}
	if p.op == "" {
		s.done()
		return []byte{}, nil
	}
	_ = s.send(ctx, msgLog(p.log))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		s.stateChange = 0
		return nil, rpc.Errorf(rpc.Unavailable, "%s: the toolbox is closing", p.cmd)
	}
	s.wg.Add(1)
	s.timer = time.AfterFunc(s.opts.Power.Delay, func() {
		defer s.wg.Done()
		s.act(p)
	})
	return []byte{}, nil
}

func (s *Service) done() {
	s.mu.Lock()
	s.stateChange = 0
	s.mu.Unlock()
}

func (s *Service) act(p powerOp) {
	defer s.done()
	o := s.opts.Power
	if o.Before != nil {
		if err := o.Before(s.ctx, p.op); err != nil {
			s.log.Warn("toolbox: power hook failed; going ahead", "op", p.op, "error", err)
		}
	}
	act := o.Act
	if act == nil {
		act = power.Default
	}
	if err := act(p.op); err != nil {
		s.log.Error("toolbox: power operation failed", "op", p.op, "error", fmt.Errorf("%s: %w", p.cmd, err))
	}
}
