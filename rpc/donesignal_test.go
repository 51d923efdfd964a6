package rpc

import (
	"sync"
	"testing"
)

// TestDoneSignal: the channel from wait is closed once end has been
// called, whether it was made before or after, and end is idempotent;
// waiters on several goroutines all wake.
func TestDoneSignal(t *testing.T) {
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	tests := []struct {
		name string
		run  func(d *doneSignal) (before, after <-chan struct{})
	}{
		{"wait, then end", func(d *doneSignal) (<-chan struct{}, <-chan struct{}) {
			ch := d.wait()
			if closed(ch) || d.isDone() {
				t.Fatal("done before end")
			}
			d.end()
			return ch, d.wait()
		}},
		{"end, then wait", func(d *doneSignal) (<-chan struct{}, <-chan struct{}) {
			d.end()
			return d.wait(), d.wait()
		}},
		{"end twice", func(d *doneSignal) (<-chan struct{}, <-chan struct{}) {
			ch := d.wait()
			d.end()
			d.end() // must not close ch again
			return ch, d.wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doneSignal
			before, after := tt.run(&d)
			if !d.isDone() || !closed(before) || !closed(after) {
				t.Errorf("after end: isDone %v, channels closed %v, %v; want all true", d.isDone(), closed(before), closed(after))
			}
		})
	}
	t.Run("concurrent waiters", func(t *testing.T) {
		var d doneSignal
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { <-d.wait() })
		}
		wg.Go(d.end)
		wg.Wait()
	})
}
