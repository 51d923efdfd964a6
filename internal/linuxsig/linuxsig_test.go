package linuxsig_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/internal/linuxsig"
)

func TestNumber(t *testing.T) {
	type result struct {
		N  int
		OK bool
	}
	tests := []struct {
		in   string
		want result
	}{
		{"TERM", result{15, true}},
		{"SIGTERM", result{15, true}},
		{"sigkill", result{9, true}},
		{"9", result{9, true}},
		{"SIG34", result{34, true}},
		{"64", result{64, true}},
		{"65", result{0, false}},
		{"0", result{0, false}},
		{"SIG", result{0, false}},
		{"NOPE", result{0, false}},
		{"", result{0, false}},
		{"SIG-1", result{0, false}},
	}
	for _, tt := range tests {
		n, ok := linuxsig.Number(tt.in)
		if diff := cmp.Diff(tt.want, result{n, ok}); diff != "" {
			t.Errorf("Number(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for n := 1; n <= 64; n++ {
		if got, ok := linuxsig.Number(linuxsig.Name(n)); !ok || got != n {
			t.Errorf("Number(Name(%d) = %q) = %d, %v", n, linuxsig.Name(n), got, ok)
		}
	}
}
