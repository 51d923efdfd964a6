package nicinfo

import (
	"fmt"
	"strconv"
	"strings"
)

// parseUptime reads /proc/uptime's first field as OVT does
// ("%llu.%2u"): seconds and hundredths.
func parseUptime(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("nicinfo: uptime %q: empty", s)
	}
	secs, frac, _ := strings.Cut(f[0], ".")
	sec, err := strconv.ParseUint(secs, 10, 64)
	if err != nil || len(frac) > 2 || sec > 1<<50 {
		return 0, fmt.Errorf("nicinfo: uptime %q: want seconds.hundredths", s)
	}
	cs := uint64(0)
	if frac != "" {
		c, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("nicinfo: uptime %q: want seconds.hundredths", s)
		}
		if len(frac) == 1 {
			c *= 10
		}
		cs = c
	}
	return sec*100 + cs, nil
}
