package nicinfo_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/nicinfo"
	"github.com/guestrpc/guestrpc/rpc"
)

func TestServiceOverPair(t *testing.T) {
	fixed := &nicinfo.Info{
		Interfaces: []nicinfo.Interface{{Index: 2, Name: "eth0", MAC: "00:50:56:aa:bb:cc", MTU: 1500, Up: true,
			Addrs: []nicinfo.Addr{
				{IP: netip.MustParseAddr("192.168.1.10"), PrefixLen: 24, Origin: nicinfo.OriginDHCP, Status: nicinfo.StatusPreferred},
				{IP: netip.MustParseAddr("fe80::1"), PrefixLen: 64, Origin: nicinfo.OriginLinkLayer, Status: nicinfo.StatusTentative},
			}}},
		Routes: []nicinfo.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), IfIndex: 2, Type: nicinfo.RouteRemote, Metric: 100}},
		DNS:    nicinfo.DNS{HostName: "guest", DomainName: "example.com", Servers: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, Search: []string{"example.com"}},
	}
	failing := errors.New("netlink says no")
	tests := []struct {
		name    string
		collect func(context.Context) (*nicinfo.Info, error)
		want    *nicinfo.Result
		code    rpc.Code
	}{
		{"fixed", func(context.Context) (*nicinfo.Info, error) { return fixed, nil }, &nicinfo.Result{Info: *fixed, PrimaryIP: "192.168.1.10"}, rpc.OK},
		{"failing", func(context.Context) (*nicinfo.Info, error) { return nil, failing }, nil, rpc.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{})
			svc, err := nicinfo.NewService(nicinfo.Options{Collect: tt.collect})
			if err != nil {
				t.Fatal(err)
			}
			svc.Register(srv)
			c := testutil.Pair(t, srv)
			got, err := nicinfo.NewClient(c).Get(context.Background())
			if code := rpc.CodeOf(err); code != tt.code {
				t.Fatalf("code %v (%v), want %v", code, err, tt.code)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("guest.nicinfo (-want +got):\n%s", diff)
			}
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := nicinfo.NewClient(c).Get(context.Background()); rpc.CodeOf(err) != rpc.Unavailable {
				t.Errorf("after Close: %v, want Unavailable", err)
			}
		})
	}
}

// TestServiceThisMachine serves what Collect finds here: the loopback
// interface, which every machine has, comes back over the wire.
func TestServiceThisMachine(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc, err := nicinfo.NewService(nicinfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	svc.Register(srv)
	c := testutil.Pair(t, srv)
	got, err := nicinfo.NewClient(c).Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	local, err := nicinfo.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.Interfaces, func(i nicinfo.Interface) bool { return i.Loopback && i.Up }) {
		t.Errorf("no up loopback interface in %+v", got.Interfaces)
	}
	if runtime.GOOS == "linux" && len(got.Interfaces) != len(local.Interfaces) {
		t.Errorf("%d interfaces over the wire, %d here", len(got.Interfaces), len(local.Interfaces))
	}
	if diff := cmp.Diff(local.V3(nicinfo.Select{}).Nics, got.V3(nicinfo.Select{}).Nics, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the NICs reported from the JSON differ from the local ones (-local +wire):\n%s", diff)
	}
}

func TestServiceRefusesBadArgs(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc, err := nicinfo.NewService(nicinfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	c := testutil.Pair(t, srv)
	err = c.Call(context.Background(), "guest.nicinfo", []int{1}, nil)
	if rpc.CodeOf(err) != rpc.InvalidArgument {
		t.Fatalf("an array as arguments: %v, want InvalidArgument", err)
	}
}
