package toolbox

import (
	"bytes"
	"context"

	"github.com/guestrpc/guestrpc/rpc"
)

// errOption is Set_Option's refusal, the same for an unknown option, a
// bad value and a malformed command (toolsRpc.c).
var errOption = rpc.Errorf(rpc.InvalidArgument, "Unknown or invalid option")

// reset answers "ATR toolbox"; the unified-loop capability and, once, the
// version log line follow the reply (OVT sends them from its reset
// check, after the loop answered).
func (s *Service) reset(context.Context, []byte) ([]byte, error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.afterReset(s.ctx)
	}()
	return []byte("ATR " + AppName), nil
}

func (s *Service) afterReset(ctx context.Context) {
	_ = s.send(ctx, msgUnifiedLoop())
	s.mu.Lock()
	first := !s.versionSent
	s.versionSent = true
	s.mu.Unlock()
	if first {
		_ = s.send(ctx, msgVersionLog(s.opts.Version, s.opts.Build))
	}
}

func (s *Service) ping(context.Context, []byte) ([]byte, error) { return []byte{}, nil }

// capabilities registers what this guest does, then the tools version
// (versiontype, or version from a VMX too old for it). Failures are
// logged; the reply is OK regardless, as OVT's.
func (s *Service) capabilities(ctx context.Context, _ []byte) ([]byte, error) {
	for _, m := range msgCapabilities() {
		_ = s.send(ctx, m)
	}
	if _, err := s.opts.RPCI.Call(ctx, msgVersionType()); err != nil {
		_ = s.send(ctx, msgVersion())
	}
	return []byte{}, nil
}

// parseOption splits Set_Option's argument as toolsRpc.c does: the
// option is the first space-delimited token, the value everything after
// the one space that follows it, and must not be empty.
func parseOption(args []byte) (option, value string, ok bool) {
	args = bytes.TrimLeft(args, " ")
	opt, val, found := bytes.Cut(args, []byte(" "))
	if !found || len(opt) == 0 || len(val) == 0 {
		return "", "", false
	}
	return string(opt), string(val), true
}

// Options the toolbox knows besides broadcastIP: powerOps.c's script
// switches, "0" or "1". No scripts run here, so they are recorded only.
var scriptOptions = map[string]bool{
	"toolScripts.afterPowerOn":   true,
	"toolScripts.beforePowerOff": true,
	"toolScripts.afterResume":    true,
	"toolScripts.beforeSuspend":  true,
}

func (s *Service) setOption(ctx context.Context, args []byte) ([]byte, error) {
	option, value, ok := parseOption(args)
	switch {
	case !ok:
		return nil, errOption
	case option == "broadcastIP":
		return s.broadcastIP(ctx, value)
	case scriptOptions[option] && (value == "0" || value == "1"):
		s.mu.Lock()
		s.scripts[option] = value == "1"
		s.mu.Unlock()
		return []byte{}, nil
	}
	return nil, errOption
}

// broadcastIP 1 sets guestinfo.ip to the primary address, then sends the
// network information; 0 is accepted and does nothing (guestInfoServer.c).
func (s *Service) broadcastIP(ctx context.Context, value string) ([]byte, error) {
	switch value {
	case "0":
		return []byte{}, nil
	case "1":
	default:
		return nil, errOption
	}
	ip := ""
	if s.opts.PrimaryIP != nil {
		var err error
		if ip, err = s.opts.PrimaryIP(ctx); err != nil {
			s.log.Warn("toolbox: primary IP", "error", err)
			ip = ""
		}
	}
	if err := s.send(ctx, msgGuestIP(ip)); err != nil {
		return nil, errOption
	}
	if s.opts.SendNicInfo != nil {
		if err := s.opts.SendNicInfo(ctx, s.opts.RPCI); err != nil {
			s.log.Warn("toolbox: sending the network information", "error", err)
		}
	}
	return []byte{}, nil
}
