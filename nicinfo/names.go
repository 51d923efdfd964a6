package nicinfo

import (
	"fmt"
	"strconv"
)

// Names of the RFC values in guest.nicinfo's JSON.
func originName(o Origin) string {
	switch o {
	case OriginOther:
		return "other"
	case OriginManual:
		return "manual"
	case OriginDHCP:
		return "dhcp"
	case OriginLinkLayer:
		return "linklayer"
	case OriginRandom:
		return "random"
	}
	return ""
}

func statusName(s Status) string {
	switch s {
	case StatusPreferred:
		return "preferred"
	case StatusDeprecated:
		return "deprecated"
	case StatusInvalid:
		return "invalid"
	case StatusInaccessible:
		return "inaccessible"
	case StatusUnknown:
		return "unknown"
	case StatusTentative:
		return "tentative"
	case StatusDuplicate:
		return "duplicate"
	case StatusOptimistic:
		return "optimistic"
	}
	return ""
}

func routeTypeName(t RouteType) string {
	switch t {
	case RouteOther:
		return "other"
	case RouteReject:
		return "reject"
	case RouteLocal:
		return "local"
	case RouteRemote:
		return "remote"
	}
	return ""
}

func (o Origin) String() string { return named(originName(o), int32(o)) }
func (s Status) String() string { return named(statusName(s), int32(s)) }

func (t RouteType) String() string { return named(routeTypeName(t), int32(t)) }

func named(name string, v int32) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(int(v))
}

// MarshalText writes the RFC name, or the number for a value without one.
func (o Origin) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// MarshalText writes the RFC name, or the number for a value without one.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText writes the RFC name, or the number for a value without one.
func (t RouteType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText takes what MarshalText writes.
func (o *Origin) UnmarshalText(b []byte) error {
	v, err := parseNamed(string(b), "origin", func(i int32) string { return originName(Origin(i)) })
	*o = Origin(v)
	return err
}

// UnmarshalText takes what MarshalText writes.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := parseNamed(string(b), "status", func(i int32) string { return statusName(Status(i)) })
	*s = Status(v)
	return err
}

// UnmarshalText takes what MarshalText writes.
func (t *RouteType) UnmarshalText(b []byte) error {
	v, err := parseNamed(string(b), "route type", func(i int32) string { return routeTypeName(RouteType(i)) })
	*t = RouteType(v)
	return err
}

func parseNamed(s, what string, name func(int32) string) (int32, error) {
	for i := int32(0); i <= 16; i++ {
		if n := name(i); n != "" && n == s {
			return i, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("nicinfo: %s %q: not a name or a number", what, s)
	}
	return int32(v), nil
}
