package rpc

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStreamTable: put, get, take and appendAll agree with a map through
// a run of operations that fills the inline slots, spills into the map
// and empties both again, and id 0 is never found.
func TestStreamTable(t *testing.T) {
	cores := make([]streamCore, 64)
	for i := range cores {
		cores[i].id = uint32(2*i + 1)
	}
	tests := []struct {
		name string
		ops  []int // positive: put id; negative: take -id
	}{
		{"slots only", []int{1, 3, -1, 5, -3, -5}},
		{"fill the slots", []int{1, 3, 5, 7, -3, 9, -1, -5, -7, -9}},
		{"spill into the map and back", []int{1, 3, 5, 7, 9, 11, -1, -3, 13, -9, -11, 15, -5, -7, -13, -15}},
		{"take what is not there", []int{-1, 1, -3, -1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tab streamTable
			want := map[uint32]*streamCore{}
			for _, op := range tt.ops {
				applyStreamOp(t, &tab, want, op, cores)
			}
		})
	}
	t.Run("random", func(t *testing.T) {
		var tab streamTable
		want := map[uint32]*streamCore{}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			id := 2*rng.IntN(12) + 1
			if _, ok := want[uint32(id)]; ok || rng.IntN(3) == 0 {
				id = -id
			}
			applyStreamOp(t, &tab, want, id, cores)
		}
	})
}

func applyStreamOp(t *testing.T, tab *streamTable, want map[uint32]*streamCore, op int, cores []streamCore) {
	t.Helper()
	if op > 0 {
		id := uint32(op)
		if _, ok := want[id]; ok {
			return // put requires an id not in the table
		}
		s := &cores[id/2]
		tab.put(id, s)
		want[id] = s
	} else {
		id := uint32(-op)
		if got := tab.take(id); got != want[id] {
			t.Fatalf("take(%d) = %p, want %p", id, got, want[id])
		}
		delete(want, id)
	}
	if tab.len() != len(want) {
		t.Fatalf("after %d: len = %d, want %d", op, tab.len(), len(want))
	}
	if tab.get(0) != nil || tab.take(0) != nil {
		t.Fatal("id 0 found in the table")
	}
	var wantIDs []uint32
	for id, s := range want {
		wantIDs = append(wantIDs, id)
		if got := tab.get(id); got != s {
			t.Fatalf("get(%d) = %p, want %p", id, got, s)
		}
	}
	var gotIDs []uint32
	for _, s := range tab.appendAll(nil) {
		gotIDs = append(gotIDs, s.id)
	}
	slices.Sort(wantIDs)
	slices.Sort(gotIDs)
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Fatalf("after %d: appendAll ids (-want +got):\n%s", op, diff)
	}
}
