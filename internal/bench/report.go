package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Series holds one metric's samples, one per interleaved round (or a
// single sample for one-off figures such as sizes), for each subject.
type Series struct {
	Name   string
	Unit   string  // as printed: "µs", "ms", "MB/s", "MB", "KB", "goroutines"
	Scale  float64 // samples are divided by Scale for printing (0: 1)
	Higher bool    // higher is better (throughput)
	Note   string

	Guestrpc, Floor, QGA []float64
}

// Row is a Series reduced to medians and spreads, and the per-round
// ratios guestrpc/floor and qemu-ga/guestrpc (in the row's own unit:
// for times above 1 means slower, for MB/s below 1 means slower).
type Row struct {
	Metric          string   `json:"metric"`
	Unit            string   `json:"unit"`
	HigherIsBetter  bool     `json:"higher_is_better"`
	Guestrpc        *Summary `json:"guestrpc,omitempty"`
	Floor           *Summary `json:"floor,omitempty"`
	QGA             *Summary `json:"qemu_ga,omitempty"`
	GuestrpcInFloor *Summary `json:"guestrpc_over_floor,omitempty"`
	QGAInGuestrpc   *Summary `json:"qemu_ga_over_guestrpc,omitempty"`
	Note            string   `json:"note,omitempty"`
}

// Row reduces s; samples are scaled to the printed unit.
func (s *Series) Row() Row {
	scale := s.Scale
	if scale == 0 {
		scale = 1
	}
	sum := func(xs []float64) *Summary {
		if len(xs) == 0 {
			return nil
		}
		v := Summarize(xs)
		if v.N == 0 {
			return nil
		}
		v.Median, v.Min, v.Max = v.Median/scale, v.Min/scale, v.Max/scale
		return &v
	}
	ratio := func(num, den []float64) *Summary {
		if len(num) == 0 || len(den) == 0 {
			return nil
		}
		v := Summarize(Ratios(num, den))
		if v.N == 0 {
			return nil
		}
		return &v
	}
	return Row{
		Metric: s.Name, Unit: s.Unit, HigherIsBetter: s.Higher, Note: s.Note,
		Guestrpc: sum(s.Guestrpc), Floor: sum(s.Floor), QGA: sum(s.QGA),
		GuestrpcInFloor: ratio(s.Guestrpc, s.Floor), QGAInGuestrpc: ratio(s.QGA, s.Guestrpc),
	}
}

// Report is everything one run of the harness found.
type Report struct {
	Machine map[string]string `json:"machine"`
	Rounds  int               `json:"rounds"`
	Rows    []Row             `json:"rows"`
	Notes   []string          `json:"notes,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes r as a Markdown table: each cell is the median
// with the spread (min–max over rounds) after it.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| metric | guestrpc | floor | qemu-ga | guestrpc/floor | qemu-ga/guestrpc |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	var notes []string
	for _, row := range r.Rows {
		name := row.Metric
		if row.Note != "" {
			notes = append(notes, fmt.Sprintf("[%d] %s: %s", len(notes)+1, row.Metric, row.Note))
			name += fmt.Sprintf(" [%d]", len(notes))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name,
			Cell(row.Guestrpc, row.Unit), Cell(row.Floor, row.Unit), Cell(row.QGA, row.Unit),
			Cell(row.GuestrpcInFloor, "×"), Cell(row.QGAInGuestrpc, "×"))
	}
	b.WriteString("\n")
	for _, n := range notes {
		fmt.Fprintf(&b, "%s\n", n)
	}
	b.WriteString("\n")
	for _, k := range sortedKeys(r.Machine) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Machine[k])
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Cell formats a summary as "median unit (min–max)", "median unit"
// for a single sample, and "–" for none.
func Cell(s *Summary, unit string) string {
	if s == nil || s.N == 0 {
		return "–"
	}
	sep := " "
	if unit == "×" || unit == "" {
		sep = ""
	}
	if s.N == 1 || s.Min == s.Max {
		return num(s.Median) + sep + unit
	}
	return fmt.Sprintf("%s%s%s (%s–%s)", num(s.Median), sep, unit, num(s.Min), num(s.Max))
}

// num prints three significant digits, without exponents.
func num(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
