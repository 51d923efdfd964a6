package process

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/guestrpc/guestrpc/rpc"
)

// defaultPath is searched when the environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// launch is a Spec resolved against the system.
type launch struct {
	path string
	argv []string
	env  []string
	cred *syscall.Credential
}

// prepare resolves spec's user, environment and program.
func prepare(spec *Spec) (*launch, error) {
	cred, userEnv, err := resolveUser(spec.User, spec.Groups)
	if err != nil {
		return nil, rpc.Errorf(rpc.InvalidArgument, "%s: %w", methodStart, err)
	}
	l := &launch{cred: cred}
	switch {
	case spec.ReplaceEnv:
		l.env = mergeEnv(nil, spec.Env)
	case len(userEnv) == 0 && len(spec.Env) == 0:
		l.env = os.Environ()
	default:
		l.env = mergeEnv(append(os.Environ(), userEnv...), spec.Env)
	}
	if spec.Shell != "" {
		l.path = "/bin/sh"
		l.argv = append([]string{"sh", "-c", spec.Shell}, spec.Args...)
		return l, nil
	}
	if l.path, err = lookPath(spec.Path, l.env, spec.Dir); err != nil {
		return nil, err
	}
	l.argv = append([]string{spec.Path}, spec.Args...)
	return l, nil
}

// mergeEnv appends extra to base; a later KEY replaces an earlier one.
func mergeEnv(base, extra []string) []string {
	all := append(base[:len(base):len(base)], extra...)
	seen := make(map[string]int, len(all))
	out := make([]string, 0, len(all))
	for _, kv := range all {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := seen[k]; ok {
			out[i] = kv
			continue
		}
		seen[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// lookPath finds name in the PATH of env unless it contains a '/'.
func lookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", rpc.Errorf(rpc.NotFound, "%s: program %q not found in PATH %q", methodStart, name, path)
}

// resolveUser turns a user name or "uid[:gid]" and group names or ids
// into credentials, plus HOME, USER and LOGNAME for a known user.
func resolveUser(spec string, groups []string) (*syscall.Credential, []string, error) {
	if spec == "" && len(groups) == 0 {
		return nil, nil, nil
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	var u *user.User
	if spec != "" {
		uidStr, gidStr, hasGid := strings.Cut(spec, ":")
		if uid, err := strconv.ParseUint(uidStr, 10, 32); err == nil {
			cred.Uid, cred.Gid = uint32(uid), uint32(uid)
			u, _ = user.LookupId(uidStr)
		} else if hasGid {
			return nil, nil, fmt.Errorf("user %q: want a name or uid[:gid]", spec)
		} else if u, err = user.Lookup(spec); err != nil {
			return nil, nil, fmt.Errorf("user %q: %w", spec, err)
		}
		if u != nil {
			uid, gid, err := userIDs(u)
			if err != nil {
				return nil, nil, fmt.Errorf("user %q: %w", spec, err)
			}
			cred.Uid, cred.Gid = uid, gid
		}
		if hasGid {
			gid, err := strconv.ParseUint(gidStr, 10, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("user %q: gid %q: %w", spec, gidStr, err)
			}
			cred.Gid = uint32(gid)
		}
	}
	var env []string
	if u != nil {
		env = []string{"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
	}
	if len(groups) == 0 && u != nil {
		groups, _ = u.GroupIds()
	}
	cred.Groups = []uint32{}
	for _, g := range groups {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			grp, lerr := user.LookupGroup(g)
			if lerr != nil {
				return nil, nil, fmt.Errorf("group %q: %w", g, lerr)
			}
			if gid, err = strconv.ParseUint(grp.Gid, 10, 32); err != nil {
				return nil, nil, fmt.Errorf("group %q: gid %q: %w", g, grp.Gid, err)
			}
		}
		cred.Groups = append(cred.Groups, uint32(gid))
	}
	return cred, env, nil
}

// userIDs parses the numeric ids of a looked-up user. An id that does not
// parse is an error: falling back to 0 would run the program as root.
func userIDs(u *user.User) (uid, gid uint32, err error) {
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	g, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	return uint32(id), uint32(g), nil
}
