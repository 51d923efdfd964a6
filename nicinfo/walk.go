package nicinfo

import (
	"encoding/binary"
	"fmt"
)

// walker checks XDR bytes against nicinfo.x without allocating: every
// count against its limit, every length against the bytes left, every
// optional's discriminant and bool against 0 and 1. Decode runs it before
// go-xdr allocates anything; Encode runs it on its own output.
type walker struct {
	b      []byte
	off    int
	maxIPs uint32 // MaxIPs, or MaxIPsV2 for a V3 body sent as IPADDRESS_V2
}

func (w *walker) u32(what string) (uint32, error) {
	if len(w.b)-w.off < 4 {
		return 0, fmt.Errorf("%s at offset %d: %d bytes left, want 4", what, w.off, len(w.b)-w.off)
	}
	v := binary.BigEndian.Uint32(w.b[w.off:])
	w.off += 4
	return v, nil
}

// count reads an array length and checks it against limit.
func (w *walker) count(what string, limit uint32) (int, error) {
	n, err := w.u32(what)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("%s at offset %d: %d, more than %d", what, w.off-4, n, limit)
	}
	return int(n), nil
}

// optional reads an optional's discriminant: 0 or 1 elements.
func (w *walker) optional(what string) (int, error) {
	return w.count(what+" (optional)", 1)
}

func (w *walker) boolean(what string) error {
	_, err := w.count(what+" (bool)", 1)
	return err
}

// opaque skips a string or opaque of at most limit bytes and its padding.
func (w *walker) opaque(what string, limit uint32) error {
	n, err := w.count(what+" length", limit)
	if err != nil {
		return err
	}
	padded := (n + 3) &^ 3
	if len(w.b)-w.off < padded {
		return fmt.Errorf("%s at offset %d: %d bytes left, want %d", what, w.off, len(w.b)-w.off, padded)
	}
	w.off += padded
	return nil
}

func (w *walker) proto() error {
	ver, err := w.u32("version")
	if err != nil {
		return err
	}
	n, err := w.optional("body")
	if err != nil || n == 0 {
		return err
	}
	switch NicInfoVersion(ver) {
	case NicInfoV3Version:
		return w.nicInfoV3()
	case NicInfoV2Version:
		return w.nicListV2()
	}
	return fmt.Errorf("version %d: want 2 or 3", ver)
}

func (w *walker) nicInfoV3() error {
	n, err := w.count("nics", MaxNICs)
	if err != nil {
		return err
	}
	for i := range n {
		if err := w.nic(i); err != nil {
			return err
		}
	}
	if n, err = w.count("routes", MaxRoutes); err != nil {
		return err
	}
	for range n {
		if err := w.route(); err != nil {
			return err
		}
	}
	return w.configs("")
}

// configs walks the four optionals that end GuestNicV3 and NicInfoV3.
func (w *walker) configs(where string) error {
	if n, err := w.optional(where + "dnsConfigInfo"); err != nil {
		return err
	} else if n == 1 {
		if err := w.dns(); err != nil {
			return err
		}
	}
	if n, err := w.optional(where + "winsConfigInfo"); err != nil {
		return err
	} else if n == 1 {
		if err := w.typedIP("wins primary"); err != nil {
			return err
		}
		if err := w.typedIP("wins secondary"); err != nil {
			return err
		}
	}
	for _, name := range []string{"dhcpConfigInfov4", "dhcpConfigInfov6"} {
		if n, err := w.optional(where + name); err != nil {
			return err
		} else if n == 1 {
			if err := w.boolean(name + " enabled"); err != nil {
				return err
			}
			if err := w.opaque(name+" settings", MaxDHCPConfigLen); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) nic(i int) error {
	if err := w.opaque(fmt.Sprintf("nic %d mac", i), MaxMACLen); err != nil {
		return err
	}
	n, err := w.count(fmt.Sprintf("nic %d ips", i), w.maxIPs)
	if err != nil {
		return err
	}
	for range n {
		if err := w.typedIP("ip"); err != nil {
			return err
		}
		if _, err := w.u32("prefix length"); err != nil {
			return err
		}
		for _, what := range []string{"origin", "status"} {
			if k, err := w.optional(what); err != nil {
				return err
			} else if k == 1 {
				if _, err := w.u32(what); err != nil {
					return err
				}
			}
		}
	}
	return w.configs(fmt.Sprintf("nic %d ", i))
}

func (w *walker) typedIP(what string) error {
	if _, err := w.u32(what + " type"); err != nil {
		return err
	}
	return w.opaque(what, MaxInetAddrLen)
}

func (w *walker) route() error {
	if err := w.typedIP("route dest"); err != nil {
		return err
	}
	if _, err := w.u32("route prefix length"); err != nil {
		return err
	}
	if n, err := w.optional("route next hop"); err != nil {
		return err
	} else if n == 1 {
		if err := w.typedIP("route next hop"); err != nil {
			return err
		}
	}
	for _, what := range []string{"route ifIndex", "route type", "route metric"} {
		if _, err := w.u32(what); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) dns() error {
	for _, what := range []string{"dns hostName", "dns domainName"} {
		if n, err := w.optional(what); err != nil {
			return err
		} else if n == 1 {
			if err := w.opaque(what, MaxDNSNameLen); err != nil {
				return err
			}
		}
	}
	n, err := w.count("dns servers", MaxDNSServers)
	if err != nil {
		return err
	}
	for range n {
		if err := w.typedIP("dns server"); err != nil {
			return err
		}
	}
	if n, err = w.count("dns searchSuffixes", MaxDNSSuffixes); err != nil {
		return err
	}
	for range n {
		if err := w.opaque("dns search suffix", MaxDNSNameLen); err != nil {
			return err
		}
	}
	return nil
}

// nicListV2 walks GuestNicList: rpcgen encodes each char of a fixed char
// array as a 4-byte XDR int.
func (w *walker) nicListV2() error {
	n, err := w.count("v2 nics", MaxNICs)
	if err != nil {
		return err
	}
	for range n {
		if err := w.skip("v2 mac", 4*v2MACLen); err != nil {
			return err
		}
		k, err := w.count("v2 ips", w.maxIPs)
		if err != nil {
			return err
		}
		if err := w.skip("v2 ips", k*v2IPSize); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) skip(what string, n int) error {
	if len(w.b)-w.off < n {
		return fmt.Errorf("%s at offset %d: %d bytes left, want %d", what, w.off, len(w.b)-w.off, n)
	}
	w.off += n
	return nil
}
