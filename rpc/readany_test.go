package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestReadAny: one goroutine takes in every lane of a stream with
// ReadAny, which names each piece's lane, keeps each lane's order, and
// ends with io.EOF once the handler is done and all is read, also when
// the call failed (Wait has its error), as LaneReader does.
func TestReadAny(t *testing.T) {
	for _, tc := range []struct {
		name     string
		writes   []rpc.Lane // the handler writes "<lane>:<i>;" on each in turn
		fail     bool       // the handler returns an error after writing
		bufSize  int
		want     map[rpc.Lane]string
		wantCode rpc.Code // from Wait
	}{
		{name: "nothing", bufSize: 64, want: map[rpc.Lane]string{}},
		{name: "one lane", writes: []rpc.Lane{0, 0, 0}, bufSize: 64,
			want: map[rpc.Lane]string{0: "0:0;0:1;0:2;"}},
		{name: "interleaved lanes", writes: []rpc.Lane{0, 1, 0, 2, 1, 15}, bufSize: 64,
			want: map[rpc.Lane]string{0: "0:0;0:2;", 1: "1:1;1:4;", 2: "2:3;", 15: "15:5;"}},
		{name: "a buffer smaller than a piece", writes: []rpc.Lane{1, 0, 1}, bufSize: 3,
			want: map[rpc.Lane]string{0: "0:1;", 1: "1:0;1:2;"}},
		{name: "error after DATA", writes: []rpc.Lane{1, 0}, fail: true, bufSize: 64,
			want:     map[rpc.Lane]string{0: "0:1;", 1: "1:0;"},
			wantCode: rpc.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{})
			srv.HandleFunc("lanes", func(ctx context.Context, call *rpc.Request) (any, error) {
				for i, l := range tc.writes {
					if _, err := fmt.Fprintf(call.LaneWriter(l), "%d:%d;", l, i); err != nil {
						return nil, err
					}
				}
				if tc.fail {
					return nil, rpc.Errorf(rpc.FailedPrecondition, "no more")
				}
				return nil, nil
			})
			c := testutil.Pair(t, srv)
			s, err := c.Open(testCtx(t), "lanes", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := map[rpc.Lane]string{}
			buf := make([]byte, tc.bufSize)
			for {
				n, lane, err := s.ReadAny(buf)
				if n > 0 {
					got[lane] += string(buf[:n])
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("ReadAny ended with %v, want io.EOF", err)
					}
					break
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DATA per lane (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCode, rpc.CodeOf(s.Wait(nil))); diff != "" {
				t.Errorf("the call's error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadAnyTakesLanesInTurn: with DATA waiting on several lanes,
// ReadAny takes them in turn, so that a lane that always has DATA (a
// process's busy stdout) does not hold back another (its stderr).
func TestReadAnyTakesLanesInTurn(t *testing.T) {
	const lane0, lane1 = 96 << 10, 100
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("lanes", func(ctx context.Context, call *rpc.Request) (any, error) {
		if _, err := call.Write(make([]byte, lane0)); err != nil {
			return nil, err
		}
		_, err := call.LaneWriter(1).Write(make([]byte, lane1))
		return nil, err
	})
	c := testutil.Pair(t, srv)
	s, err := c.Open(testCtx(t), "lanes", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "all the DATA to arrive", func() bool { return rpc.Buffered(s) == lane0+lane1 })
	var got []rpc.Lane
	buf := make([]byte, 16<<10)
	for {
		n, lane, err := s.ReadAny(buf)
		if n > 0 && (len(got) == 0 || got[len(got)-1] != lane) {
			got = append(got, lane)
		}
		if err != nil {
			break
		}
	}
	// Lane 0 needs six reads of 16 KiB; lane 1's comes second, not last.
	if diff := cmp.Diff([]rpc.Lane{0, 1, 0}, got); diff != "" {
		t.Errorf("the order of the lanes read (-want +got):\n%s", diff)
	}
}
