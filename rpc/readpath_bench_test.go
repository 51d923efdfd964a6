package rpc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

// newUnixPairOver is newUnixPair with the client's channel wrapped.
func newUnixPairOver(tb testing.TB, srv *rpc.Server, wrap func(channel.Channel) channel.Channel) *rpc.Client {
	tb.Helper()
	a, z := socketPair(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	c, err := rpc.NewClient(ctx, wrap(channel.NewStream(z, channel.StreamOptions{})), rpc.ClientOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}

// BenchmarkCallReadPath measures the claim in clientread.go's header: a
// unary call that reads its own reply on the calling goroutine against
// the same call handed its reply by the background reader (the channel's
// Interruptible hidden by opaque, so that the client leaves all reading
// to its background reader). Blocks of each alternate, as in
// BenchmarkPingVsRaw; x-self is the median ratio of handed to self-read
// latency, so above 1 is what reading for oneself saves.
func BenchmarkCallReadPath(b *testing.B) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	self := newUnixPairOver(b, srv, func(ch channel.Channel) channel.Channel { return ch })
	handed := newUnixPairOver(b, srv, func(ch channel.Channel) channel.Channel { return opaque{ch} })
	ctx := context.Background()
	const block = 200
	var ratios []float64
	var inSelf, inHanded time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		start := time.Now()
		for range block {
			if err := self.Call(ctx, "sys.ping", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range block {
			if err := handed.Call(ctx, "sys.ping", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		end := time.Now()
		inSelf += mid.Sub(start)
		inHanded += end.Sub(mid)
		ratios = append(ratios, float64(end.Sub(mid))/float64(mid.Sub(start)))
	}
	b.StopTimer()
	slices.Sort(ratios)
	n := float64(len(ratios) * block)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(inSelf.Nanoseconds())/n, "self-ns/op")
	b.ReportMetric(float64(inHanded.Nanoseconds())/n, "handed-ns/op")
	b.ReportMetric(ratios[len(ratios)/2], "x-self")
}
