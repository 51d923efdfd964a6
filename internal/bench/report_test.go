package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeriesRow(t *testing.T) {
	s := Series{Name: "ping", Unit: "µs", Scale: 1e3, Note: "n",
		Guestrpc: []float64{30e3, 40e3, 20e3},
		Floor:    []float64{15e3, 40e3, 10e3},
		QGA:      []float64{60e3, 40e3, 60e3},
	}
	got := s.Row()
	want := Row{Metric: "ping", Unit: "µs", Note: "n",
		Guestrpc:        &Summary{Median: 30, Min: 20, Max: 40, N: 3},
		Floor:           &Summary{Median: 15, Min: 10, Max: 40, N: 3},
		QGA:             &Summary{Median: 60, Min: 40, Max: 60, N: 3},
		GuestrpcInFloor: &Summary{Median: 2, Min: 1, Max: 2, N: 3}, // per round: 2, 1, 2
		QGAInGuestrpc:   &Summary{Median: 2, Min: 1, Max: 3, N: 3}, // per round: 2, 1, 3
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Row (-want +got):\n%s", diff)
	}
	if r := (&Series{Name: "x", Guestrpc: []float64{1}}).Row(); r.Floor != nil || r.QGA != nil || r.GuestrpcInFloor != nil {
		t.Errorf("absent subjects gave %+v", r)
	}
}

func TestCell(t *testing.T) {
	tests := []struct {
		s    *Summary
		unit string
		want string
	}{
		{nil, "µs", "–"},
		{&Summary{Median: 33.14, Min: 31, Max: 36.2, N: 5}, "µs", "33.1 µs (31.0–36.2)"},
		{&Summary{Median: 1567.4, Min: 1567.4, Max: 1567.4, N: 1}, "MB/s", "1567 MB/s"},
		{&Summary{Median: 0.904, Min: 0.8, Max: 1.2, N: 3}, "×", "0.90× (0.80–1.20)"},
		{&Summary{Median: 2, Min: 2, Max: 2, N: 1}, "", "2.00"},
	}
	for _, tt := range tests {
		if got := Cell(tt.s, tt.unit); got != tt.want {
			t.Errorf("Cell(%+v, %q) = %q, want %q", tt.s, tt.unit, got, tt.want)
		}
	}
}

func TestReportOutput(t *testing.T) {
	s := Series{Name: "exec", Unit: "ms", Scale: 1e6, Note: "floor: os/exec", Guestrpc: []float64{1e6}, Floor: []float64{0.5e6}}
	rep := Report{Machine: map[string]string{"cores": "2"}, Rounds: 1, Rows: []Row{s.Row()}, Notes: []string{"qemu-ga left out"}}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| exec [1] | 1.00 ms | 0.50 ms | – | 2.00× | – |", "[1] exec: floor: os/exec", "- cores: 2", "- qemu-ga left out"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}
