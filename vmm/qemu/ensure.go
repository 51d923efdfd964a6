package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// Assets are what a guest boot needs from the host.
type Assets struct {
	QEMU    string // qemu-system-x86_64
	Kernel  string // vmlinuz
	Modules string // lib/modules/RELEASE of that kernel
	Release string // kernel release, e.g. 6.1.0-48-cloud-amd64
	Busybox string // a static busybox for the guest's shell tools
}

// ErrMissing reports that QEMU or a kernel is absent and could not be
// installed; its message says what to install.
var ErrMissing = errors.New("qemu: lab not available")

// Ensure finds QEMU, a Debian cloud kernel and a static busybox. With
// install set it installs QEMU through apt-get (as root) and downloads
// the kernel and busybox packages into the cache directory
// ($GUESTRPC_CACHE, or the user cache dir), unpacking them with dpkg-deb;
// without it, it only uses what is already there. logf reports progress.
func Ensure(ctx context.Context, install bool, logf func(format string, args ...any)) (*Assets, error) {
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("qemu lab: cache dir: %w", err)
	}
	// Several test binaries may ask at once: one downloads, the others wait.
	lock, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("qemu lab: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("qemu lab: lock %s: %w", lock.Name(), err)
	}

	a := &Assets{}
	if a.QEMU, err = exec.LookPath("qemu-system-x86_64"); err != nil {
		if !install {
			return nil, fmt.Errorf("%w: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86, or run `make test`, which installs it)", ErrMissing)
		}
		if err := aptInstall(ctx, logf, "qemu-system-x86"); err != nil {
			return nil, err
		}
		if a.QEMU, err = exec.LookPath("qemu-system-x86_64"); err != nil {
			return nil, fmt.Errorf("%w: qemu-system-x86_64 still missing after apt-get install", ErrMissing)
		}
	}

	kdir := filepath.Join(cache, "kernel")
	if err := a.findKernel(kdir); err != nil {
		if !install {
			return nil, fmt.Errorf("%w: no kernel in %s (%v); run `make test` or `bash scripts/qemu-setup.sh` to fetch linux-image-cloud-amd64", ErrMissing, kdir, err)
		}
		pkg, derr := kernelPackage(ctx, logf)
		if derr != nil {
			return nil, derr
		}
		if err := fetchDeb(ctx, logf, pkg, kdir); err != nil {
			return nil, err
		}
		if err := a.findKernel(kdir); err != nil {
			return nil, fmt.Errorf("%w: unpacked %s but %v", ErrMissing, pkg, err)
		}
	}

	bdir := filepath.Join(cache, "busybox")
	a.Busybox = filepath.Join(bdir, "bin", "busybox")
	if _, err := os.Stat(a.Busybox); err != nil {
		if !install {
			return nil, fmt.Errorf("%w: no busybox in %s; run `make test` or `bash scripts/qemu-setup.sh`", ErrMissing, bdir)
		}
		if err := fetchDeb(ctx, logf, "busybox-static", bdir); err != nil {
			return nil, err
		}
		if _, err := os.Stat(a.Busybox); err != nil {
			return nil, fmt.Errorf("%w: busybox-static unpacked without bin/busybox", ErrMissing)
		}
	}
	return a, nil
}

func cacheDir() (string, error) {
	if d := os.Getenv("GUESTRPC_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("qemu lab: no cache dir (set GUESTRPC_CACHE): %w", err)
	}
	return filepath.Join(d, "guestrpc"), nil
}

func (a *Assets) findKernel(kdir string) error {
	kernels, _ := filepath.Glob(filepath.Join(kdir, "boot", "vmlinuz-*"))
	if len(kernels) == 0 {
		return errors.New("no boot/vmlinuz-*")
	}
	a.Kernel = kernels[len(kernels)-1]
	a.Release = strings.TrimPrefix(filepath.Base(a.Kernel), "vmlinuz-")
	a.Modules = filepath.Join(kdir, "lib", "modules", a.Release)
	if _, err := os.Stat(a.Modules); err != nil {
		return fmt.Errorf("kernel %s has no modules: %w", a.Release, err)
	}
	return nil
}

// kernelPackage asks apt which versioned package linux-image-cloud-amd64
// stands for, refreshing the package lists once if apt does not know.
func kernelPackage(ctx context.Context, logf func(string, ...any)) (string, error) {
	for attempt := 0; ; attempt++ {
		out, _ := exec.CommandContext(ctx, "apt-cache", "depends", "linux-image-cloud-amd64").CombinedOutput()
		if m := regexp.MustCompile(`Depends: (linux-image-[0-9]\S*-cloud-amd64)`).FindSubmatch(out); m != nil {
			return string(m[1]), nil
		}
		if attempt > 0 || os.Geteuid() != 0 {
			return "", fmt.Errorf("%w: apt does not know linux-image-cloud-amd64 (%s); as root run apt-get update", ErrMissing, bytes.TrimSpace(out))
		}
		if err := run(ctx, logf, "", "apt-get", "update"); err != nil {
			return "", err
		}
	}
}

func aptInstall(ctx context.Context, logf func(string, ...any), pkgs ...string) error {
	// As root, apt-get; otherwise through passwordless sudo if there is one.
	var prefix []string
	if os.Geteuid() != 0 {
		if exec.CommandContext(ctx, "sudo", "-n", "true").Run() != nil {
			return fmt.Errorf("%w: %s missing and not running as root to install it: run `sudo apt-get install -y --no-install-recommends %s`", ErrMissing, strings.Join(pkgs, " "), strings.Join(pkgs, " "))
		}
		prefix = []string{"-n", "apt-get"}
	}
	apt := func(args ...string) error {
		if prefix != nil {
			return run(ctx, logf, "", "sudo", append(prefix, args...)...)
		}
		return run(ctx, logf, "", "apt-get", args...)
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	if err := apt(args...); err == nil {
		return nil
	}
	// A fresh machine may have no package lists yet.
	if err := apt("update"); err != nil {
		return err
	}
	return apt(args...)
}

// fetchDeb downloads pkg with apt-get download and unpacks it into dir.
func fetchDeb(ctx context.Context, logf func(string, ...any), pkg, dir string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "download-")
	if err != nil {
		return fmt.Errorf("qemu lab: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o777); err != nil { // apt's sandbox user writes here
		return fmt.Errorf("qemu lab: %w", err)
	}
	if err := run(ctx, logf, tmp, "apt-get", "download", pkg); err != nil {
		if os.Geteuid() != 0 {
			return err
		}
		if err := run(ctx, logf, "", "apt-get", "update"); err != nil {
			return err
		}
		if err := run(ctx, logf, tmp, "apt-get", "download", pkg); err != nil {
			return err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("qemu lab: apt-get download %s left %d .deb files", pkg, len(debs))
	}
	stage := dir + ".new"
	os.RemoveAll(stage)
	if err := run(ctx, logf, "", "dpkg-deb", "-x", debs[0], stage); err != nil {
		return err
	}
	os.RemoveAll(dir)
	if err := os.Rename(stage, dir); err != nil {
		return fmt.Errorf("qemu lab: %w", err)
	}
	return nil
}

func run(ctx context.Context, logf func(string, ...any), dir, name string, args ...string) error {
	logf("qemu lab: %s %s", name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v\n%s", ErrMissing, name, strings.Join(args, " "), err, lastLines(out, 15))
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
