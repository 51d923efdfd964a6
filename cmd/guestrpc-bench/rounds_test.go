package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestInterleave: each op runs n times, every pass starting at the next
// op, each time goes to every sample the op names, and the first error
// ends the run with the op's name.
func TestInterleave(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		n       int
		failAt  int // the call (1-based) that fails; 0: none
		want    []string
		wantErr bool
	}{
		{name: "three passes", n: 3, want: []string{"a", "b", "c", "b", "c", "a", "c", "a", "b"}},
		{name: "one pass", n: 1, want: []string{"a", "b", "c"}},
		{name: "none", n: 0},
		{name: "an error ends it", n: 3, failAt: 5, want: []string{"a", "b", "c", "b", "c"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var sa, sb, sc, both []float64
			op := func(name string) func() error {
				return func() error {
					got = append(got, name)
					if len(got) == tc.failAt {
						return boom
					}
					return nil
				}
			}
			err := interleave(tc.n, []timedOp{
				{"a", op("a"), []*[]float64{&sa}},
				{"b", op("b"), []*[]float64{&sb, &both}},
				{"c", op("c"), []*[]float64{&sc, &both}},
			})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("order of the ops (-want +got):\n%s", diff)
			}
			if tc.wantErr {
				if !errors.Is(err, boom) || err.Error() != "c: boom" {
					t.Errorf("error %v, want c: boom", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			counts := []int{len(sa), len(sb), len(sc), len(both)}
			if diff := cmp.Diff([]int{tc.n, tc.n, tc.n, 2 * tc.n}, counts); diff != "" {
				t.Errorf("samples per destination (-want +got):\n%s", diff)
			}
		})
	}
}
