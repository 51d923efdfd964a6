package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestInterleave: each op runs n times, once in every pass, each time
// goes to every sample the op names, and the first error ends the run
// with the failing op's name.
func TestInterleave(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		n       int
		failAt  int // the call (1-based) that fails; 0: none
		wantN   int // calls made
		wantErr bool
	}{
		{name: "three passes", n: 3, wantN: 9},
		{name: "one pass", n: 1, wantN: 3},
		{name: "none", n: 0},
		{name: "an error ends it", n: 3, failAt: 5, wantN: 5, wantErr: true},
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
			}, newOrder())
			if len(got) != tc.wantN {
				t.Fatalf("%d calls (%q), want %d", len(got), got, tc.wantN)
			}
			for p := 0; p+3 <= len(got); p += 3 {
				pass := slices.Sorted(slices.Values(got[p : p+3]))
				if diff := cmp.Diff([]string{"a", "b", "c"}, pass); diff != "" {
					t.Errorf("pass %d ran %q, not each op once (-want +got):\n%s", p/3, got[p:p+3], diff)
				}
			}
			if tc.wantErr {
				want := got[tc.failAt-1] + ": boom"
				if !errors.Is(err, boom) || err.Error() != want {
					t.Errorf("error %v, want %s", err, want)
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

// TestInterleavePredecessors: over many passes each op comes right after
// each of the others about equally often, which a fixed or rotating
// cyclic order (a always after c, b after a) fails.
func TestInterleavePredecessors(t *testing.T) {
	const n = 3000
	var got []string
	op := func(name string) timedOp {
		return timedOp{name, func() error { got = append(got, name); return nil }, nil}
	}
	if err := interleave(n, []timedOp{op("a"), op("b"), op("c")}, newOrder()); err != nil {
		t.Fatal(err)
	}
	after := map[[2]string]int{} // {op, the op before it}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1] {
			after[[2]string{got[i], got[i-1]}]++
		}
	}
	for _, pair := range [][3]string{{"a", "b", "c"}, {"b", "a", "c"}, {"c", "a", "b"}} {
		x, y := after[[2]string{pair[0], pair[1]}], after[[2]string{pair[0], pair[2]}]
		if share := float64(x) / float64(x+y); share < 0.45 || share > 0.55 {
			t.Errorf("%s came after %s %d times and after %s %d times: want about even", pair[0], pair[1], x, pair[2], y)
		}
	}
}

// TestNewOrderRepeats: two runs draw the same orders.
func TestNewOrderRepeats(t *testing.T) {
	run := func() []string {
		var got []string
		ops := []timedOp{}
		for _, name := range []string{"a", "b", "c", "d"} {
			ops = append(ops, timedOp{name, func() error { got = append(got, name); return nil }, nil})
		}
		if err := interleave(50, ops, newOrder()); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if diff := cmp.Diff(run(), run()); diff != "" {
		t.Errorf("orders differ between runs (-first +second):\n%s", diff)
	}
}

// TestShuffled: a permutation of the ops, drawn afresh each time, and
// the ops themselves left in their order.
func TestShuffled(t *testing.T) {
	ops := []string{"a", "b", "c", "d", "e"}
	order := newOrder()
	seen := map[string]bool{}
	for range 50 {
		got := shuffled(order, ops)
		seen[strings.Join(got, "")] = true
		if diff := cmp.Diff(ops, slices.Sorted(slices.Values(got))); diff != "" {
			t.Fatalf("shuffled %q is not a permutation (-want +got):\n%s", got, diff)
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, ops); diff != "" {
		t.Errorf("shuffled changed its input (-want +got):\n%s", diff)
	}
	if len(seen) < 10 {
		t.Errorf("50 shuffles of 5 ops gave only %d orders", len(seen))
	}
}
