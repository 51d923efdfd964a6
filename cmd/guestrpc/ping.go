package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

func runPing(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("ping", "[-n COUNT]", "Calls sys.ping COUNT times and prints the round-trip times.", stderr)
	n := fs.Int("n", 100, "number of sys.ping calls")
	if err := parse(fs, args, 0, 0); err != nil {
		return exitUsage, err
	}
	if *n < 1 {
		return exitUsage, usageErrorf("-n %d: need at least one ping", *n)
	}
	rtts := make([]time.Duration, 0, *n)
	for range *n {
		start := time.Now()
		if err := c.Call(ctx, "sys.ping", nil, nil); err != nil {
			return 1, err
		}
		rtts = append(rtts, time.Since(start))
	}
	s := Summarize(rtts)
	fmt.Fprintf(stdout, "%d pings to %s: min %v  median %v  p99 %v  max %v\n",
		len(rtts), c.PeerName(), s.Min, s.Median, s.P99, s.Max)
	return 0, nil
}

// RTTSummary holds order statistics of round-trip times.
type RTTSummary struct{ Min, Median, P99, Max time.Duration }

// Summarize computes order statistics of d (which it sorts).
func Summarize(d []time.Duration) RTTSummary {
	if len(d) == 0 {
		return RTTSummary{}
	}
	slices.Sort(d)
	return RTTSummary{Min: d[0], Median: d[len(d)/2], P99: d[(len(d)*99)/100], Max: d[len(d)-1]}
}

func runInfo(ctx context.Context, c *rpc.Client, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("info", "", "Prints sys.info, the agent's description of the guest, as indented JSON.", stderr)
	if err := parse(fs, args, 0, 0); err != nil {
		return exitUsage, err
	}
	var info json.RawMessage
	if err := c.Call(ctx, "sys.info", nil, &info); err != nil {
		return 1, err
	}
	var pretty map[string]any
	if err := json.Unmarshal(info, &pretty); err != nil {
		return 1, fmt.Errorf("agent sent sys.info that is not a JSON object: %w", err)
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	fmt.Fprintf(stdout, "%s\n", out)
	return 0, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
