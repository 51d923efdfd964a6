package channel

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// VirtioOptions configure ListenVirtio.
type VirtioOptions struct {
	StreamOptions
	// SysfsRoot and DevRoot locate the port (defaults "/sys" and "/dev");
	// tests point them at a fake tree.
	SysfsRoot string
	DevRoot   string
	// MinBackoff and MaxBackoff bound the wait between polls while no host
	// is connected (defaults 10ms and 250ms). A disconnected port reports
	// POLLHUP at once on every poll, so without the wait the agent would
	// spin.
	MinBackoff, MaxBackoff time.Duration
}

func (o *VirtioOptions) defaults() {
	if o.SysfsRoot == "" {
		o.SysfsRoot = "/sys"
	}
	if o.DevRoot == "" {
		o.DevRoot = "/dev"
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 10 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 250 * time.Millisecond
		if o.MaxBackoff < o.MinBackoff {
			o.MaxBackoff = o.MinBackoff
		}
	}
}

// VirtioAddr is the address of a virtio-console port.
type VirtioAddr struct {
	Name string // the port name given on the host, e.g. org.guestrpc.0
	Path string // the character device
}

// Network returns "virtio".
func (a VirtioAddr) Network() string { return "virtio" }

func (a VirtioAddr) String() string { return a.Name + "@" + a.Path }

var _ net.Addr = VirtioAddr{}

// FindVirtioPort returns the character device of the virtio-console port
// called name. It looks in this order: /sys/class/virtio-ports/*/name (no
// udev needed: works in an initramfs; the device node is created from the
// port's dev numbers when devtmpfs has not), /dev/virtio-ports/NAME (udev)
// and /dev/vtcon/NAME (FreeBSD under bhyve).
func FindVirtioPort(name string, opts VirtioOptions) (string, error) {
	opts.defaults()
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("channel: virtio port name %q: %w", name, fs.ErrInvalid)
	}
	ports, _ := filepath.Glob(filepath.Join(opts.SysfsRoot, "class", "virtio-ports", "*", "name"))
	var seen []string
	for _, p := range ports {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		got := strings.TrimSpace(string(b))
		seen = append(seen, got)
		if got != name {
			continue
		}
		dir := filepath.Dir(p)
		dev := filepath.Join(opts.DevRoot, filepath.Base(dir))
		if _, err := os.Stat(dev); err == nil {
			return dev, nil
		}
		if err := mknodFromSysfs(dev, filepath.Join(dir, "dev")); err != nil {
			return "", fmt.Errorf("channel: virtio port %q: %w", name, err)
		}
		return dev, nil
	}
	for _, p := range []string{
		filepath.Join(opts.DevRoot, "virtio-ports", name),
		filepath.Join(opts.DevRoot, "vtcon", name),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("channel: virtio port %q: %w (ports present: %q)", name, os.ErrNotExist, seen)
}
