package transport

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Caps on a target string, so that a hostile or mistaken one cannot make
// the parser hold much.
const (
	maxTargetLen = 4096
	maxListLen   = 64
)

// Target is a parsed target string: SCHEME:ADDRESS, then options for an
// agent-side listener or reverse dialer, each ",KEY=VALUE" (see the
// package documentation).
type Target struct {
	Scheme  string
	Address string
	Options Options
}

// Options are the settings a target string gives one listener. Zero
// fields were not given.
type Options struct {
	// Allow and Block are method globs (allow=, block=), the listener's
	// rpc.Policy Allow and Block.
	Allow, Block []string
	// UIDs and GIDs admit unix-socket peers (uid=, gid=); CIDs admit
	// vsock peers (cid=).
	UIDs, GIDs, CIDs []uint32
	// TokenFile holds the token TCP peers must present (token-file=).
	TokenFile string
	// Mode and Group set a unix socket's permissions (mode=, group=).
	Mode  os.FileMode
	Group string
}

// ErrBadTarget is wrapped by the errors of a target string that is not
// SCHEME:ADDRESS with a known scheme and a well-formed address.
var ErrBadTarget = errors.New("transport: bad target")

// ErrOption is wrapped by the errors of an option a target string may
// not have: unknown, repeated, malformed, or not for its transport.
var ErrOption = errors.New("transport: bad target option")

// ParseTarget splits s into its scheme, address and options. It checks
// the options' syntax, not whether they suit the scheme (see
// Target.Check).
func ParseTarget(s string) (Target, error) {
	if len(s) > maxTargetLen {
		return Target{}, fmt.Errorf("%w: target of %d bytes, the limit is %d", ErrBadTarget, len(s), maxTargetLen)
	}
	head, opts, _ := strings.Cut(s, ",")
	scheme, addr, err := split(head)
	if err != nil {
		return Target{}, err
	}
	t := Target{Scheme: scheme, Address: addr}
	if opts == "" && strings.HasSuffix(s, ",") {
		return Target{}, fmt.Errorf("%w: %q: empty option", ErrOption, s)
	}
	seen := map[string]bool{}
	for opt := range strings.SplitSeq(opts, ",") {
		if opts == "" {
			break
		}
		key, val, ok := strings.Cut(opt, "=")
		if !ok || val == "" {
			return Target{}, fmt.Errorf("%w: %q: option %q: want KEY=VALUE", ErrOption, s, opt)
		}
		if seen[key] {
			return Target{}, fmt.Errorf("%w: %q: option %s given twice", ErrOption, s, key)
		}
		seen[key] = true
		if err := t.Options.set(key, val); err != nil {
			return Target{}, fmt.Errorf("%w: %q: %s=%s: %v", ErrOption, s, key, val, err)
		}
	}
	return t, nil
}

// set parses one option into o.
func (o *Options) set(key, val string) error {
	var err error
	switch key {
	case "allow":
		o.Allow, err = globs(val)
	case "block":
		o.Block, err = globs(val)
	case "uid":
		o.UIDs, err = ids(val)
	case "gid":
		o.GIDs, err = ids(val)
	case "cid":
		o.CIDs, err = ids(val)
	case "token-file":
		o.TokenFile = val
	case "mode":
		var m uint64
		m, err = strconv.ParseUint(val, 8, 32)
		if err == nil && (m == 0 || m > 0o777) {
			err = errors.New("want octal permission bits, 1 to 0777")
		}
		o.Mode = os.FileMode(m)
	case "group":
		o.Group = val
	default:
		return errors.New("unknown option (want allow, block, uid, gid, cid, token-file, mode or group)")
	}
	return err
}

func list(val string) ([]string, error) {
	items := strings.Split(val, ";")
	if len(items) > maxListLen {
		return nil, fmt.Errorf("%d items, the limit is %d", len(items), maxListLen)
	}
	for _, it := range items {
		if it == "" {
			return nil, errors.New("empty item")
		}
	}
	return items, nil
}

func globs(val string) ([]string, error) {
	items, err := list(val)
	if err != nil {
		return nil, err
	}
	for _, g := range items {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("method pattern %q: %w", g, err)
		}
	}
	return items, nil
}

func ids(val string) ([]uint32, error) {
	items, err := list(val)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, len(items))
	for i, it := range items {
		n, err := strconv.ParseUint(it, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("id %q: want a decimal number", it)
		}
		out[i] = uint32(n)
	}
	return out, nil
}

// String formats t as ParseTarget reads it, options in a fixed order.
func (t Target) String() string {
	var b strings.Builder
	b.WriteString(t.Scheme + ":" + t.Address)
	o := t.Options
	add := func(key, val string) {
		if val != "" {
			b.WriteString("," + key + "=" + val)
		}
	}
	add("allow", strings.Join(o.Allow, ";"))
	add("block", strings.Join(o.Block, ";"))
	add("uid", joinIDs(o.UIDs))
	add("gid", joinIDs(o.GIDs))
	add("cid", joinIDs(o.CIDs))
	add("token-file", o.TokenFile)
	if o.Mode != 0 {
		add("mode", fmt.Sprintf("%#o", uint32(o.Mode)))
	}
	add("group", o.Group)
	return b.String()
}

func joinIDs(v []uint32) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatUint(uint64(n), 10)
	}
	return strings.Join(s, ";")
}

// Policy reports whether o holds anything for rpc.Policy: allow, block,
// uid, gid, cid or token-file.
func (o Options) Policy() bool {
	return o.Allow != nil || o.Block != nil || o.UIDs != nil || o.GIDs != nil || o.CIDs != nil || o.TokenFile != ""
}

// optionsFor lists the options each agent-side scheme takes.
var optionsFor = map[string]string{
	"unix":   "allow block uid gid mode group",
	"tcp":    "allow block token-file",
	"vsock":  "allow block cid",
	"virtio": "allow block",
}

// Check reports an option that t's scheme does not take.
func (t Target) Check() error {
	o := t.Options
	given := []struct {
		key string
		set bool
	}{
		{"allow", o.Allow != nil}, {"block", o.Block != nil}, {"uid", o.UIDs != nil}, {"gid", o.GIDs != nil},
		{"cid", o.CIDs != nil}, {"token-file", o.TokenFile != ""}, {"mode", o.Mode != 0}, {"group", o.Group != ""},
	}
	takes := strings.Fields(optionsFor[t.Scheme])
	for _, g := range given {
		if g.set && !slices.Contains(takes, g.key) {
			return fmt.Errorf("%w: %q: a %s target takes no %s= option (it takes: %s)", ErrOption, t, t.Scheme, g.key, optionsFor[t.Scheme])
		}
	}
	return nil
}
