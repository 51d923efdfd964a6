package channel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/wire"
)

// TestReceiveWatchAllocs: Receives under one ctx that can end register
// with it once it has been met twice (context.AfterFunc) and keep the
// registration, so that they allocate nothing.
func TestReceiveWatchAllocs(t *testing.T) {
	a, z := testutil.SocketPair(t)
	s := channel.NewStream(a, channel.StreamOptions{})
	r := channel.NewStream(z, channel.StreamOptions{})
	defer r.Close()
	const runs = 200
	for i := range runs + 3 {
		f := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, uint64(i))}
		if err := s.Send(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f wire.Frame
	for range 2 {
		if err := r.Receive(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(runs, func() {
		if err := r.Receive(ctx, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("Receive with the same cancelable ctx allocated %.1f times per call, want 0", allocs)
	}
}

// valueCtx is a context.Context that is not comparable: comparing two
// of them as interfaces would panic.
type valueCtx struct {
	context.Context
	tags map[string]string
}

// TestReceiveWatchKept: a Receive keeps its registration with a ctx only
// once a second Receive in a row has come under that ctx (or one with
// the same Done); a ctx met once is unregistered when its Receive
// returns, so that ending it later costs nothing.
func TestReceiveWatchKept(t *testing.T) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	derived := context.WithValue(base, valueKey{}, 1) // same Done as base
	odd := valueCtx{base, map[string]string{"a": "b"}}
	tests := []struct {
		name string
		ctxs []context.Context
		want []bool // WatchKept after each Receive
	}{
		{"one ctx", []context.Context{base, base, base}, []bool{false, true, true}},
		{"alternating", []context.Context{base, other, base, other}, []bool{false, false, false, false}},
		{"switch after keeping", []context.Context{base, base, other, other}, []bool{false, true, false, true}},
		{"same Done", []context.Context{base, derived, odd}, []bool{false, true, true}},
		{"not comparable", []context.Context{odd, odd}, []bool{false, true}},
		{"cannot end", []context.Context{context.Background(), context.Background()}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, z := testutil.SocketPair(t)
			s := channel.NewStream(a, channel.StreamOptions{})
			r := channel.NewStream(z, channel.StreamOptions{})
			defer s.Close()
			var got []bool
			for i, ctx := range tt.ctxs {
				f := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, uint64(i))}
				if err := s.Send(context.Background(), &f); err != nil {
					t.Fatal(err)
				}
				if err := r.Receive(ctx, &f); err != nil {
					t.Fatalf("Receive %d: %v", i, err)
				}
				got = append(got, channel.WatchKept(r))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("kept after each Receive (-want +got):\n%s", diff)
			}
			r.Close()
			if channel.WatchKept(r) {
				t.Error("a closed stream still keeps its registration")
			}
		})
	}
}

type valueKey struct{}

// TestReceiveWatchOtherCtx: the end of a ctx whose Receives have returned
// does not interrupt a later Receive under another ctx (its registration,
// kept after two Receives, outlives them until that Receive begins), while the end of that other ctx
// does; the stream stays usable throughout.
func TestReceiveWatchOtherCtx(t *testing.T) {
	a, z := testutil.SocketPair(t)
	s := channel.NewStream(a, channel.StreamOptions{})
	r := channel.NewStream(z, channel.StreamOptions{})
	defer s.Close()
	defer r.Close()
	send := func(v uint64) {
		t.Helper()
		f := wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, v)}
		if err := s.Send(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	var f wire.Frame
	for range 2 { // twice, so that the registration is kept
		send(1)
		if err := r.Receive(first, &f); err != nil {
			t.Fatal(err)
		}
	}
	if !channel.WatchKept(r) {
		t.Fatal("two Receives under the first ctx left no registration kept")
	}

	second, cancelSecond := context.WithCancel(context.Background())
	defer cancelSecond()
	got := make(chan error, 1)
	go func() {
		var g wire.Frame
		err := r.Receive(second, &g)
		if err == nil {
			if v, _ := wire.ParsePing(g.Payload); v != 2 {
				err = errors.New("received the wrong PING")
			}
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond) // let Receive block; correctness does not depend on it
	cancelFirst()                     // must not interrupt the Receive under second
	select {
	case err := <-got:
		t.Fatalf("the end of the first ctx ended the Receive under the second: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	send(2)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Receive under the second ctx: %v", err)
		}
	case <-time.After(hang):
		t.Fatal("Receive under the second ctx never returned")
	}

	go func() { var g wire.Frame; got <- r.Receive(second, &g) }()
	time.Sleep(10 * time.Millisecond)
	cancelSecond()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive whose ctx ended: %v, want context.Canceled", err)
		}
	case <-time.After(hang):
		t.Fatal("the end of the second ctx did not interrupt its Receive")
	}
	send(3)
	if err := r.Receive(context.Background(), &f); err != nil {
		t.Fatalf("Receive after the interruption: %v", err)
	}
	if v, _ := wire.ParsePing(f.Payload); v != 3 {
		t.Fatalf("after the interruption got PING %d, want 3", v)
	}
}
