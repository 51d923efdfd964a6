package nicinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// maxResolvConf caps the bytes read of a resolv.conf.
const maxResolvConf = 64 << 10

// resolvPaths name the files DNS reads; tests point them elsewhere.
type resolvPaths struct {
	conf     string // /etc/resolv.conf
	stub     string // systemd-resolved's stub file, /run/systemd/resolve/stub-resolv.conf
	upstream string // systemd-resolved's upstream servers, /run/systemd/resolve/resolv.conf
}

func defaultResolvPaths() resolvPaths {
	return resolvPaths{
		conf:     "/etc/resolv.conf",
		stub:     "/run/systemd/resolve/stub-resolv.conf",
		upstream: "/run/systemd/resolve/resolv.conf",
	}
}

// resolvConf is what res_init takes from a resolv.conf.
type resolvConf struct {
	servers []netip.Addr
	domain  string // res.defdname
	search  []string
	set     bool // a domain or search line was seen
}

// parseResolvConf reads r as glibc's res_init does: "nameserver" lines
// (any number up to MaxDNSServers, where glibc keeps 3), and "domain"
// and "search", of which the last wins; "search" also sets the domain
// to its first entry, "domain" the search list to the domain.
func parseResolvConf(r io.Reader) (resolvConf, error) {
	var rc resolvConf
	sc := bufio.NewScanner(io.LimitReader(r, maxResolvConf))
	sc.Buffer(make([]byte, 4096), maxResolvConf)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			host, _, _ := strings.Cut(f[1], "%")
			if a, err := netip.ParseAddr(host); err == nil && len(rc.servers) < MaxDNSServers {
				rc.servers = append(rc.servers, a)
			}
		case "domain":
			rc.domain, rc.search, rc.set = f[1], []string{f[1]}, true
		case "search":
			rc.domain, rc.search, rc.set = f[1], f[1:], true
		}
	}
	if err := sc.Err(); err != nil {
		return rc, fmt.Errorf("nicinfo: resolv.conf: %w", err)
	}
	return rc, nil
}

func readResolvConf(name string) (resolvConf, error) {
	f, err := os.Open(name)
	if err != nil {
		return resolvConf{}, err
	}
	defer f.Close()
	return parseResolvConf(f)
}

// readDNS returns the resolver's configuration as OVT reports it
// (nicInfoPosix.c RecordResolverInfo): the host name, the domain and
// search list of /etc/resolv.conf (from the host name after its first
// dot when it names neither, as res_init does), and its name servers —
// or, when it is systemd-resolved's stub, the upstream servers
// systemd-resolved lists. A missing resolv.conf is no error.
func readDNS(p resolvPaths, hostname string) (DNS, error) {
	d := DNS{HostName: hostname}
	rc, err := readResolvConf(p.conf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d, err
	}
	if real, err := filepath.EvalSymlinks(p.conf); err == nil && real == p.stub {
		if up, err := readResolvConf(p.upstream); err == nil {
			rc.servers = up.servers
		}
	}
	d.Servers = rc.servers
	d.DomainName, d.Search = rc.domain, rc.search
	if !rc.set {
		if _, dom, ok := strings.Cut(hostname, "."); ok && dom != "" {
			d.DomainName, d.Search = dom, []string{dom}
		}
	}
	return d, nil
}

// hostname is gethostname(2), which OVT sends as DNS_NAME and the DNS
// host name.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}
