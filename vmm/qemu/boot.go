package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

// KVMProbeTime is how long Boot, choosing the accelerator itself, gives
// a KVM guest to answer before it concludes that KVM does not work here
// (nested KVM can hang a guest in early boot) and boots again under TCG.
// A KVM guest answers in a second or two.
const KVMProbeTime = 15 * time.Second

// Boot is the one call from nothing to a connected agent: it finds the
// lab's assets (Ensure, without installing), fills cfg's empty QEMU,
// Kernel and StateDir (a fresh temporary directory), builds g into
// StateDir/initramfs.cpio unless cfg.Initrd is set, starts QEMU and
// waits, bounded by ctx, for the agent's handshake. With cfg.Accel empty
// it tries KVM when /dev/kvm opens and falls back to TCG when the guest
// does not answer within KVMProbeTime. On error nothing is left running
// and a temporary state directory is removed. The caller owns the
// Machine: Stop and then Remove it.
func Boot(ctx context.Context, cfg Config, g Guest, opts rpc.ClientOptions) (*Machine, *rpc.Client, error) {
	tempDir := cfg.StateDir == ""
	cfg, err := prepare(ctx, cfg, g)
	if err != nil {
		if tempDir && cfg.StateDir != "" {
			os.RemoveAll(cfg.StateDir)
		}
		return nil, nil, err
	}
	m, c, err := startAndDial(ctx, cfg, opts)
	if err != nil && tempDir {
		os.RemoveAll(cfg.StateDir)
	}
	return m, c, err
}

// prepare fills cfg's empty fields and builds the initramfs.
func prepare(ctx context.Context, cfg Config, g Guest) (Config, error) {
	a, err := Ensure(ctx, false, func(string, ...any) {})
	if err != nil {
		return cfg, err
	}
	if cfg.QEMU == "" {
		cfg.QEMU = a.QEMU
	}
	if cfg.Kernel == "" {
		cfg.Kernel = a.Kernel
	}
	if cfg.StateDir == "" {
		if cfg.StateDir, err = stateDirIn(""); err != nil {
			return cfg, err
		}
	} else if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return cfg, fmt.Errorf("qemu: state dir: %w", err)
	}
	if cfg.Initrd == "" {
		if cfg.VsockCID != 0 {
			g.Modules = append(g.Modules, "vmw_vsock_virtio_transport")
		}
		cfg.Initrd = filepath.Join(cfg.StateDir, "initramfs.cpio")
		if err := BuildInitramfs(ctx, a, g, cfg.Initrd, cfg.StateDir); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// startAndDial starts QEMU and waits for the agent, trying KVM first
// when cfg.Accel leaves the choice to it.
func startAndDial(ctx context.Context, cfg Config, opts rpc.ClientOptions) (*Machine, *rpc.Client, error) {
	if cfg.Accel == "" && DetectAccel() == "kvm" {
		kcfg := cfg
		kcfg.Accel = "kvm"
		pctx, cancel := context.WithTimeout(ctx, KVMProbeTime)
		m, c, err := startDial(pctx, ctx, kcfg, opts)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return m, c, err
		}
		cfg.logger().Warn("qemu: the guest did not answer under KVM; booting again under TCG", "waited", KVMProbeTime)
	}
	if cfg.Accel == "" {
		cfg.Accel = "tcg"
	}
	return startDial(ctx, ctx, cfg, opts)
}

// startDial starts QEMU (ctx bounds the launch) and dials the agent
// (dctx bounds the wait), stopping QEMU when the agent does not answer.
func startDial(dctx, ctx context.Context, cfg Config, opts rpc.ClientOptions) (*Machine, *rpc.Client, error) {
	m, err := Start(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := m.Dial(dctx, opts)
	if err != nil {
		_ = m.Stop()
		return nil, nil, err
	}
	return m, c, nil
}
