package main

import (
	"flag"
	"fmt"
	"os/user"
	"strconv"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/transport"
)

// policyFlags are the flags that say who may connect and what they may
// call.
type policyFlags struct {
	allowRPCs, blockRPCs         specList
	allowUIDs, allowGIDs, allowC specList
	tokenFile                    string
	public, insecure             bool
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.allowRPCs, "allow-rpcs", "allow only these methods: comma-separated `GLOBS` such as sys.*,file.read (repeatable; default all)")
	fs.Var(&p.blockRPCs, "block-rpcs", "refuse these methods: comma-separated `GLOBS`; a blocked method stays blocked on every listener (repeatable)")
	fs.Var(&p.allowUIDs, "allow-uid", "admit unix-socket peers running as these `USERS` (names or uids, comma-separated; default root and the agent's own uid; the list replaces that default)")
	fs.Var(&p.allowGIDs, "allow-gid", "admit unix-socket peers whose primary group is one of these `GROUPS` (names or gids, comma-separated)")
	fs.Var(&p.allowC, "allow-cid", "admit vsock peers with these context `IDS` (comma-separated; default 2, the host; the list replaces it)")
	fs.StringVar(&p.tokenFile, "token-file", "", "read the token TCP peers must present from `FILE` (never from the command line)")
	fs.BoolVar(&p.public, "listen-public", false, "allow TCP listeners on addresses other than loopback")
	fs.BoolVar(&p.insecure, "insecure", false, "admit every peer without checks, TCP without a token included (tests only; logs a warning)")
}

// config builds the ListenConfig the flags describe.
func (p *policyFlags) config() (*transport.ListenConfig, error) {
	lc := &transport.ListenConfig{Public: p.public}
	lc.Policy.Insecure = p.insecure
	lc.Policy.Allow = splitList(p.allowRPCs)
	lc.Policy.Block = splitList(p.blockRPCs)
	var err error
	if lc.Policy.AllowUIDs, err = ids(p.allowUIDs, lookupUser); err != nil {
		return nil, fmt.Errorf("--allow-uid: %w", err)
	}
	if lc.Policy.AllowGIDs, err = ids(p.allowGIDs, func(s string) (int, error) { return channel.LookupGroup(s) }); err != nil {
		return nil, fmt.Errorf("--allow-gid: %w", err)
	}
	if lc.Policy.AllowCIDs, err = ids(p.allowC, nil); err != nil {
		return nil, fmt.Errorf("--allow-cid: %w", err)
	}
	if err := lc.Policy.Validate(); err != nil {
		return nil, err
	}
	if p.tokenFile != "" {
		if lc.Token, err = transport.ReadTokenFile(p.tokenFile); err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
	}
	return lc, nil
}

func splitList(vals specList) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// ids parses comma-separated numbers, or names through lookup.
func ids(vals specList, lookup func(string) (int, error)) ([]uint32, error) {
	var out []uint32
	for _, s := range splitList(vals) {
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(n))
			continue
		}
		if lookup == nil {
			return nil, fmt.Errorf("%q: want a number", s)
		}
		n, err := lookup(s)
		if err != nil {
			return nil, err
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

func lookupUser(name string) (int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Uid)
}
