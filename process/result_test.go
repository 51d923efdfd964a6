package process

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeResult(t *testing.T) {
	started := time.Date(2026, 12, 1, 4, 0, 0, 123456789, time.UTC)
	agents, err := json.Marshal(Result{ID: 7, PID: 4242, ExitCode: -1, Signal: "SIGKILL", TimedOut: true, Started: started, Ended: started.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		in       string
		prior    Result // what r held before
		fast     bool   // the scanner takes it
		want     Result
		wantErrs string // a substring of the error, "" for none
	}{
		{name: "as the agent writes it", in: string(agents), fast: true,
			want: Result{ID: 7, PID: 4242, ExitCode: -1, Signal: "SIGKILL", TimedOut: true, Started: started, Ended: started.Add(time.Second)}},
		{name: "spaced and reordered", in: " {\n\"exit_code\" : 3 ,\t\"id\":1,\"timed_out\":false}\r\n", fast: true,
			want: Result{ID: 1, ExitCode: 3}},
		{name: "empty object keeps what r held", in: `{}`, prior: Result{ID: 9}, fast: true, want: Result{ID: 9}},
		{name: "missing keys keep what r held", in: `{"exit_code":0}`, prior: Result{ID: 9, ExitCode: 5}, fast: true, want: Result{ID: 9}},
		{name: "unknown key", in: `{"id":2,"extra":[1,2]}`, want: Result{ID: 2}},
		{name: "key in other case", in: `{"ID":2}`, want: Result{ID: 2}},
		{name: "escaped string", in: `{"signal":"SIG\u004bILL"}`, want: Result{Signal: "SIGKILL"}},
		{name: "null time", in: `{"started":null}`, want: Result{}},
		{name: "fraction", in: `{"exit_code":1.5}`, wantErrs: "decoding the result"},
		{name: "negative id", in: `{"id":-1}`, wantErrs: "decoding the result"},
		{name: "leading zero", in: `{"pid":01}`, wantErrs: "decoding the result"},
		{name: "id overflow", in: `{"id":18446744073709551616}`, wantErrs: "decoding the result"},
		{name: "bad time", in: `{"ended":"yesterday"}`, wantErrs: "decoding the result"},
		{name: "truncated", in: `{"id":1,`, wantErrs: "decoding the result"},
		{name: "trailing data", in: `{"id":1} x`, wantErrs: "decoding the result"},
		{name: "too large", in: `{"signal":"` + strings.Repeat("x", maxResultJSON) + `"}`, fast: true, wantErrs: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scanned := tt.prior
			if got := scanResult([]byte(tt.in), &scanned); got != tt.fast {
				t.Errorf("scanner took it: %v, want %v", got, tt.fast)
			}
			r := tt.prior
			err := decodeResult([]byte(tt.in), &r)
			if tt.wantErrs != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrs) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErrs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeResult: whatever the scanner accepts, encoding/json accepts
// too and decodes to the same Result, and decodeResult never panics.
// Seeds: the agent's own encodings and the table above's inputs.
func FuzzDecodeResult(f *testing.F) {
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 5, time.FixedZone("x", 3600))
	for _, r := range []Result{{}, {ID: 1, PID: 2, ExitCode: 3, Started: t0, Ended: t0}, {ID: 1 << 63, ExitCode: -1, Signal: "SIGTERM", TimedOut: true}} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, ` {"id" : 0 }`, `{"pid":-0}`, `{"timed_out":true,"timed_out":false}`, `{"ID":1}`, `{"id":1.0}`, `{"signal":"a\"b"}`, `[1]`, `{"started":"2026-12-01T04:00:00Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Result
		if scanResult(b, &fast) {
			var std Result
			if err := json.Unmarshal(b, &std); err != nil {
				t.Fatalf("scanner took %q, which encoding/json refuses: %v", b, err)
			}
			if diff := cmp.Diff(std, fast); diff != "" {
				t.Fatalf("%q: scanner and encoding/json differ (-json +scanner):\n%s", b, diff)
			}
		}
		var r Result
		_ = decodeResult(b, &r)
	})
}
