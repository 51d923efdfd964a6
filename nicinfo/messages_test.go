package nicinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeyValueMessages(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"DNS_NAME", DNSNameMessage("guest"), "SetGuestInfo  1 guest\x00"},
		{"OS_NAME_FULL", OSNameFullMessage("Debian GNU/Linux 12 (bookworm)"), "SetGuestInfo  5 Debian GNU/Linux 12 (bookworm)\x00"},
		{"OS_NAME", OSNameMessage("debian12-64"), "SetGuestInfo  6 debian12-64\x00"},
		{"UPTIME", UptimeMessage(123456), "SetGuestInfo  7 123456\x00"},
		{"empty value", SetGuestInfoMessage(KeyOSNameFull, ""), "SetGuestInfo  5 \x00"},
		{"NUL ends the value", SetGuestInfoMessage(KeyDNSName, "a\x00b"), "SetGuestInfo  1 a\x00"},
		{"broadcastIP", BroadcastIPMessage("192.168.1.10"), "info-set guestinfo.ip 192.168.1.10\x00"},
		{"broadcastIP, no address", BroadcastIPMessage(""), "info-set guestinfo.ip \x00"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// v2Chars is a char[n] as rpcgen encodes it: each char a 4-byte int.
func (b xb) v2Chars(s string, n int) xb {
	for i := range n {
		c := uint32(0)
		if i < len(s) {
			c = uint32(s[i])
		}
		b = b.u32(c)
	}
	return b
}

func TestFallbackMessages(t *testing.T) {
	v, golden := goldenOne()

	// IPADDRESS_V2 with the V3 body: the same XDR under key 9.
	got, err := NicInfoMessage(v, MethodV3AsV2)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("SetGuestInfo  9 "), golden...); !bytes.Equal(got, want) {
		t.Errorf("V3 as IPADDRESS_V2:\n%q\nwant\n%q", got, want)
	}

	// V2: GuestNicList, chars as ints, addresses and prefixes as text.
	v2 := xb("SetGuestInfo  9 ").u32(2, 1). // ver NIC_INFO_V2, *nicsV2 present
						u32(1).v2Chars("00:50:56:aa:bb:cc", 18).u32(2).          // nics, macAddress[18], ips
						u32(0, 0).v2Chars("192.168.1.10", 64).v2Chars("24", 64). // IPV4, dhcpEnabled 0
						u32(1, 0).v2Chars("fe80::250:56ff:feaa:bbcc", 64).v2Chars("64", 64)
	if got, err = NicInfoMessage(v, MethodV2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v2) {
		t.Errorf("V2: %d bytes\n% x\nwant %d bytes\n% x", len(got), got, len(v2), v2)
	}

	// V1: the packed little-endian C struct under key 2.
	v1 := make([]byte, 4+16*152)
	binary.LittleEndian.PutUint32(v1, 1)     // numNicEntries
	binary.LittleEndian.PutUint32(v1[4:], 1) // nicList[0].numIPs: IPv4 only
	copy(v1[8:], "00:50:56:aa:bb:cc")        // macAddress[19]
	copy(v1[8+19:], "192.168.1.10")          // ipAddress[0][16]
	want1 := append([]byte("SetGuestInfo  2 "), v1...)
	if got, err = NicInfoMessage(v, MethodV1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want1) {
		t.Errorf("V1: %d bytes, want %d\n% x", len(got), len(want1), got[:64])
	}
}

func TestFallbackTruncatesTo64IPs(t *testing.T) {
	nic := GuestNicV3{MacAddress: "00:50:56:00:00:01"}
	for i := range 70 {
		nic.IPs = append(nic.IPs, IPAddressEntry{Address: TypedIPAddress{IATIPv4, []byte{10, 0, 0, byte(i)}}, PrefixLength: 8})
	}
	v := &NicInfoV3{Nics: []GuestNicV3{nic}}
	for _, tt := range []struct {
		m      Method
		prefix string
		ips    int
	}{{MethodV3, "SetGuestInfo  10 ", 70}, {MethodV3AsV2, "SetGuestInfo  9 ", 64}} {
		msg, err := NicInfoMessage(v, tt.m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.TrimPrefix(msg, []byte(tt.prefix)))
		if err != nil {
			t.Fatalf("%v: %v", tt.m, err)
		}
		if n := len(got.Nics[0].IPs); n != tt.ips {
			t.Errorf("%v: %d IPs, want %d", tt.m, n, tt.ips)
		}
	}
	if len(v.Nics[0].IPs) != 70 {
		t.Errorf("the fallback changed its argument: %d IPs left", len(v.Nics[0].IPs))
	}
}

func TestEncodeRefusesBeyondLimits(t *testing.T) {
	many := func(n int) []GuestNicV3 { return make([]GuestNicV3, n) }
	tests := []struct {
		name string
		v    *NicInfoV3
	}{
		{"17 NICs", &NicInfoV3{Nics: many(17)}},
		{"a 19-byte MAC", &NicInfoV3{Nics: []GuestNicV3{{MacAddress: "00:50:56:aa:bb:cc:d"}}}},
		{"101 routes", &NicInfoV3{Routes: make([]InetCidrRouteEntry, 101)}},
		{"two DNS configs", &NicInfoV3{DNSConfigInfo: make([]DNSConfigInfo, 2)}},
		{"11 search suffixes", &NicInfoV3{DNSConfigInfo: []DNSConfigInfo{{SearchSuffixes: make([]string, 11)}}}},
		{"a 256-byte address", &NicInfoV3{Routes: []InetCidrRouteEntry{{Dest: TypedIPAddress{IATIPv4, make([]byte, 256)}}}}},
	}
	for _, tt := range tests {
		if _, err := Encode(tt.v); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", tt.name, err)
		}
	}
	if _, err := Encode(&NicInfoV3{Nics: many(16)}); err != nil {
		t.Errorf("16 NICs: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	_, one := goldenOne()
	set := func(off int, v uint32) []byte {
		b := bytes.Clone(one)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version 2", set(0, 2)},
		{"version 4", set(0, 4)},
		{"optional body 2", set(4, 2)},
		{"17 NICs", set(8, 17)},
		{"NIC count past the end", set(8, 16)},
		{"MAC length 19", set(12, 19)},
		{"MAC length 0xffffffff", set(12, 0xffffffff)},
		{"2049 IPs", set(36, 2049)},
		{"IPs past the end", set(36, 2048)},
		{"status optional 2", set(60, 2)},
		{"trailing byte", append(bytes.Clone(one), 0)},
		{"cut short", one[:len(one)-1]},
		{"101 routes", xb{}.u32(3, 1, 0, 101).bytes()},
		{"bool 2", xb{}.u32(3, 1, 0, 0, 0, 0, 1, 2, 0).bytes()},
		{"DHCP settings of 16385 bytes", xb{}.u32(3, 1, 0, 0, 0, 0, 1, 1, 16385).bytes()},
		{"too large", make([]byte, MaxEncodedSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode(tt.in)
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode: %+v, %v; want ErrMalformed or ErrTooLarge", v, err)
			}
		})
	}
}

// TestDecodeNoBody: a V3 proto whose optional body is absent decodes as
// an empty NicInfoV3.
func TestDecodeNoBody(t *testing.T) {
	got, err := Decode(xb{}.u32(3, 0).bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&NicInfoV3{}, got); diff != "" {
		t.Error(diff)
	}
}

func TestMethodString(t *testing.T) {
	var got []string
	for m := MethodV3; m <= MethodV1+1; m++ {
		got = append(got, fmt.Sprint(m))
	}
	want := []string{"V3/IPADDRESS_V3", "V3/IPADDRESS_V2", "V2/IPADDRESS_V2", "V1/IPADDRESS", "Method(4)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if _, err := NicInfoMessage(&NicInfoV3{}, MethodV1+1); err == nil {
		t.Error("an unknown method: no error")
	}
}

// TestDecodeMemoryBounded: what Decode allocates is a small multiple of
// its input, for the densest valid input and for counts that the input
// cannot hold.
func TestDecodeMemoryBounded(t *testing.T) {
	dense := xb{}.u32(3, 1, MaxNICs)
	for range MaxNICs {
		dense = dense.str("00:50:56:00:00:01").u32(MaxIPs)
		for range MaxIPs {
			dense = dense.u32(1, 0, 24, 0, 0) // type, empty address, prefix, no origin, no status
		}
		dense = dense.u32(0, 0, 0, 0)
	}
	dense = dense.u32(0, 0, 0, 0, 0)
	liar := xb{}.u32(3, 1, MaxNICs).str("00:50:56:00:00:01").u32(MaxIPs) // 2048 IPs announced, none there
	for _, tt := range []struct {
		name  string
		in    []byte
		ok    bool
		limit uint64
	}{
		{"densest", dense, true, 32 * uint64(len(dense))}, // go-xdr: 5-9x, 12x under -race
		{"counts without bytes", liar, false, 4096},
	} {
		// TotalAlloc counts every goroutine's allocations, so anything
		// else running adds to one measurement: keep the least of five.
		got := uint64(math.MaxUint64)
		var v *NicInfoV3
		for range 5 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var err error
			v, err = Decode(tt.in)
			runtime.ReadMemStats(&after)
			if (err == nil) != tt.ok {
				t.Fatalf("%s: %v", tt.name, err)
			}
			got = min(got, after.TotalAlloc-before.TotalAlloc)
		}
		t.Logf("%s: %d input bytes, %d allocated", tt.name, len(tt.in), got)
		if got > tt.limit {
			t.Errorf("%s: Decode of %d bytes allocated %d, more than %d", tt.name, len(tt.in), got, tt.limit)
		}
		runtime.KeepAlive(v)
	}
}
