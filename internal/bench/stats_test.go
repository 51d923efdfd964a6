package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{4}, Summary{Median: 4, Min: 4, Max: 4, N: 1}},
		{"odd unsorted", []float64{9, 1, 5}, Summary{Median: 5, Min: 1, Max: 9, N: 3}},
		{"even takes the mean of the middle two", []float64{4, 1, 3, 10}, Summary{Median: 3.5, Min: 1, Max: 10, N: 4}},
		{"NaNs ignored", []float64{nan, 2, nan, 8, 5}, Summary{Median: 5, Min: 2, Max: 8, N: 3}},
		{"all NaN", []float64{nan}, Summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if diff := cmp.Diff(tt.want, Summarize(in)); diff != "" {
				t.Errorf("Summarize(%v) (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.in, in, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("Summarize changed its input:\n%s", diff)
			}
		})
	}
}

func TestRatios(t *testing.T) {
	nan := math.NaN()
	got := Ratios([]float64{10, 6, nan, 4, 1}, []float64{5, 0, 2, nan})
	want := []float64{2, nan, nan, nan}
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("Ratios (-want +got):\n%s", diff)
	}
	if m := Median(nil); !math.IsNaN(m) {
		t.Errorf("Median(nil) = %v, want NaN", m)
	}
}

func TestParseStatus(t *testing.T) {
	const status = "Name:\tqemu-ga\nVmPeak:\t  12345 kB\nVmHWM:\t    6000 kB\nVmRSS:\t    4160 kB\nThreads:\t2\n"
	tests := []struct {
		name, text, field string
		want              int64
		wantErr           bool
	}{
		{"rss", status, "VmRSS", 4160 << 10, false},
		{"hwm", status, "VmHWM", 6000 << 10, false},
		{"prefix of another field is not it", status, "VmR", 0, true},
		{"missing", "Name:\tx\n", "VmRSS", 0, true},
		{"not kB", "VmRSS:\t12 MB\n", "VmRSS", 0, true},
		{"not a number", "VmRSS:\tlots kB\n", "VmRSS", 0, true},
		{"negative", "VmRSS:\t-1 kB\n", "VmRSS", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(strings.NewReader(tt.text), tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseStatus(%s) = %d, %v; want %d, error %v", tt.field, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("VmRSS:\t    4160 kB\n"), "VmRSS")
	f.Add([]byte("Name:\tx\nVmHWM: 1 kB"), "VmHWM")
	f.Fuzz(func(t *testing.T, text []byte, field string) {
		n, err := ParseStatus(strings.NewReader(string(text)), field)
		if err == nil && (n < 0 || n > 1<<50) {
			t.Fatalf("ParseStatus = %d", n)
		}
	})
}
