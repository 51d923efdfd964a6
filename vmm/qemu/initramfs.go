package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Guest init programs expect these names; the builder and examples/init
// agree on them.
const (
	// ModuleDir holds the kernel modules and a load-order file listing
	// them, one per line, each after its dependencies.
	ModuleDir = "/lib/modules/guestrpc"
	// InitPackage is the init the guest boots by default: the agent as
	// PID 1.
	InitPackage = "./examples/init"
)

// Guest is what goes into the initramfs.
type Guest struct {
	// Init is the Go package built as /init (default InitPackage).
	Init string
	// Programs are extra guest binaries: guest path → Go package path
	// relative to SourceDir (e.g. "./internal/e2e/vsockping").
	Programs map[string]string
	// Files, when set, is a host directory whose tree is copied into the
	// guest's root (regular files, directories and symlinks).
	Files string
	// Modules are kernel modules to load besides GuestModules (Boot adds
	// vmw_vsock_virtio_transport when the VM has a vsock device).
	Modules []string
	// SourceDir is where the packages are built (default: the module
	// of the working directory, which must be guestrpc or require it).
	SourceDir string
}

// GuestModules are the kernel modules examples/init loads.
func GuestModules() []string {
	return []string{"virtio_pci", "virtio_console", "vsock", "vmw_vsock_virtio_transport_common", "vsock_loopback", "pvpanic_pci"}
}

// busyboxApplets are linked into /bin for shell commands.
func busyboxApplets() []string {
	return []string{"sh", "cat", "echo", "sleep", "stty", "test", "true", "false", "ls", "ps", "kill",
		"sha256sum", "head", "dd", "mkdir", "rm", "id", "env", "wc", "tr", "seq", "yes", "pwd", "uname", "sync", "tty", "mount"}
}

// BuildInitramfs writes the guest's initramfs to path: g.Init as /init,
// g.Programs, busybox with its applets in /bin, /etc/passwd and
// /etc/group, the kernel modules (GuestModules, g.Modules and their dependencies)
// with their load order, and last the tree of g.Files. Binaries are built
// statically for linux/amd64 into work.
func BuildInitramfs(ctx context.Context, a *Assets, g Guest, path, work string) error {
	mods, err := ResolveModules(a.Modules, append(GuestModules(), g.Modules...))
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("qemu: initramfs: %w", err)
	}
	defer f.Close()
	c := NewCPIO(f)
	for _, d := range []string{"bin", "dev", "etc", "lib", "lib/modules", ModuleDir, "proc", "root", "run", "sys", "tmp", "usr", "usr/bin", "var"} {
		c.Dir(d, 0o755)
	}
	if err := addPrograms(ctx, c, g, work); err != nil {
		return err
	}
	if err := addBase(c, a.Busybox, mods); err != nil {
		return err
	}
	if g.Files != "" {
		if err := AddTree(c, g.Files); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("qemu: write %s: %w", path, err)
	}
	return f.Close()
}

func addPrograms(ctx context.Context, c *CPIO, g Guest, work string) error {
	root := g.SourceDir
	if root == "" {
		var err error
		if root, err = moduleRoot(ctx); err != nil {
			return err
		}
	}
	progs := map[string]string{"/init": InitPackage}
	if g.Init != "" {
		progs["/init"] = g.Init
	}
	for k, v := range g.Programs {
		progs[k] = v
	}
	names := make([]string, 0, len(progs))
	for k := range progs {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, guestPath := range names {
		bin := filepath.Join(work, fmt.Sprintf("prog%d.bin", i))
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, progs[guestPath])
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("qemu: build %s for %s: %w\n%s", progs[guestPath], guestPath, err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("qemu: %w", err)
		}
		c.File(guestPath, 0o755, data)
	}
	return nil
}

func addBase(c *CPIO, busybox string, mods []Module) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("qemu: busybox: %w", err)
	}
	c.File("/bin/busybox", 0o755, bb)
	for _, app := range busyboxApplets() {
		c.Symlink("/bin/"+app, "busybox")
	}
	c.File("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	c.File("/etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	var order []string
	for _, m := range mods {
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return fmt.Errorf("qemu: module: %w", err)
		}
		c.File(ModuleDir+"/"+m.Name+".ko", 0o644, data)
		order = append(order, m.Name+".ko")
	}
	c.File(ModuleDir+"/load-order", 0o644, []byte(strings.Join(order, "\n")+"\n"))
	return nil
}

// AddTree adds the tree under the host directory dir to c at the guest's
// root: directories, regular files (with their permission bits) and
// symlinks; other file types are refused.
func AddTree(c *CPIO, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("qemu: files: %w", err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("qemu: files: %w", err)
		}
		name := "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			c.Dir(name, info.Mode().Perm())
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("qemu: files: %w", err)
			}
			c.File(name, info.Mode().Perm(), data)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("qemu: files: %w", err)
			}
			c.Symlink(name, target)
		default:
			return fmt.Errorf("qemu: files: %s is a %v, not a file, directory or symlink", p, info.Mode().Type())
		}
		return nil
	})
}

// moduleRoot finds the directory holding go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("qemu: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("qemu: not inside a Go module: set Guest.SourceDir to a guestrpc checkout")
	}
	return filepath.Dir(mod), nil
}
