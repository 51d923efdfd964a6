// Package bench holds the parts of cmd/guestrpc-bench that are worth
// testing on their own: order statistics over interleaved rounds, a
// client for QEMU's guest agent (qemu-ga) JSON protocol, /proc parsing,
// and the table the harness prints.
package bench

import (
	"math"
	"slices"
)

// Summary is the median and spread (min and max) of a set of samples,
// typically one value per interleaved round.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize returns the median, min and max of xs, ignoring NaNs. The
// median of an even count is the mean of the two middle values. xs is
// not modified. An empty (or all-NaN) xs gives the zero Summary.
func Summarize(xs []float64) Summary {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Summary{}
	}
	slices.Sort(s)
	return Summary{Median: median(s), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Median is the median of xs (NaN when xs is empty); xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return Summarize(xs).Median
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Ratios divides num by den element by element: one ratio per round,
// so that each ratio compares two figures taken under the same load.
// Pairs where either side is missing (NaN) or den is zero give NaN.
func Ratios(num, den []float64) []float64 {
	n := min(len(num), len(den))
	out := make([]float64, n)
	for i := range n {
		if den[i] == 0 || math.IsNaN(num[i]) || math.IsNaN(den[i]) {
			out[i] = math.NaN()
			continue
		}
		out[i] = num[i] / den[i]
	}
	return out
}
