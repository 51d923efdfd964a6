package rpc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// TestRawResult: a *json.RawMessage result receives the result's JSON as
// the agent sent it, from Call and from Stream.Wait, in a buffer of its
// own (Call's stream is reused for the next call).
func TestRawResult(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("answer", func(ctx context.Context, call *rpc.Request) (any, error) {
		var n int
		if err := call.DecodeArgs(&n); err != nil {
			return nil, err
		}
		return map[string]int{"n": n}, nil
	})
	c := newUnixPair(t, srv)
	ctx := context.Background()
	var first, second json.RawMessage
	if err := c.Call(ctx, "answer", 1, &first); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "answer", 22, &second); err != nil {
		t.Fatal(err)
	}
	s, err := c.Open(ctx, "answer", 333)
	if err != nil {
		t.Fatal(err)
	}
	var third json.RawMessage
	if err := s.Wait(&third); err != nil {
		t.Fatal(err)
	}
	got := []string{string(first), string(second), string(third)}
	if diff := cmp.Diff([]string{`{"n":1}`, `{"n":22}`, `{"n":333}`}, got); diff != "" {
		t.Errorf("raw results (-want +got):\n%s", diff)
	}
}

// TestRawResultUnchecked: the raw result is the agent's bytes as they
// came, not validated: a result that is not JSON reaches a
// *json.RawMessage, while decoding it into a value fails.
func TestRawResultUnchecked(t *testing.T) {
	c, enc, dec := rawAgent(t, rpc.ClientOptions{})
	ctx := context.Background()
	const notJSON = `{"n":`
	tests := []struct {
		name    string
		result  func() any
		wantErr bool
	}{
		{"raw", func() any { return new(json.RawMessage) }, false},
		{"decoded", func() any { return new(map[string]int) }, true},
	}
	var f wire.Frame
	for _, tt := range tests {
		s, err := c.Open(ctx, "x", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode(&f); err != nil || f.Type != wire.TypeOpen {
			t.Fatalf("client OPEN: %v, %v", &f, err)
		}
		if err := enc.Encode(&wire.Frame{StreamID: f.StreamID, Type: wire.TypeStatus, Payload: wire.AppendStatus(nil, 0, "", []byte(notJSON))}); err != nil {
			t.Fatal(err)
		}
		result := tt.result()
		err = s.Wait(result)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Wait: %v, want an error: %v", tt.name, err, tt.wantErr)
		}
		if raw, ok := result.(*json.RawMessage); ok && string(*raw) != notJSON {
			t.Errorf("%s: got %q, want the agent's %q", tt.name, *raw, notJSON)
		}
	}
}
