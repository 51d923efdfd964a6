package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guestrpc/guestrpc/rpc"
)

// Boot is the one call from nothing to a connected agent: it finds the
// lab's assets (Ensure, without installing), fills cfg's empty QEMU,
// Kernel and StateDir (a fresh temporary directory), builds g into
// StateDir/initramfs.cpio unless cfg.Initrd is set, starts QEMU and
// waits, bounded by ctx, for the agent's handshake. On error nothing is
// left running and a temporary state directory is removed. The caller
// owns the Machine: Stop and then Remove it.
func Boot(ctx context.Context, cfg Config, g Guest, opts rpc.ClientOptions) (*Machine, *rpc.Client, error) {
	a, err := Ensure(ctx, false, func(string, ...any) {})
	if err != nil {
		return nil, nil, err
	}
	if cfg.QEMU == "" {
		cfg.QEMU = a.QEMU
	}
	if cfg.Kernel == "" {
		cfg.Kernel = a.Kernel
	}
	tempDir := cfg.StateDir == ""
	if tempDir {
		if cfg.StateDir, err = stateDirIn(""); err != nil {
			return nil, nil, err
		}
	} else if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("qemu: state dir: %w", err)
	}
	cleanup := func() {
		if tempDir {
			os.RemoveAll(cfg.StateDir)
		}
	}
	if cfg.Initrd == "" {
		if cfg.VsockCID != 0 {
			g.Modules = append(g.Modules, "vmw_vsock_virtio_transport")
		}
		cfg.Initrd = filepath.Join(cfg.StateDir, "initramfs.cpio")
		if err := BuildInitramfs(ctx, a, g, cfg.Initrd, cfg.StateDir); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	m, err := Start(ctx, cfg)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	c, err := m.Dial(ctx, opts)
	if err != nil {
		_ = m.Stop()
		cleanup()
		return nil, nil, err
	}
	return m, c, nil
}
