//go:build linux

package vix_test

import (
	"encoding/base64"
	"runtime"
	"testing"
)

// TestGovmomiCrashSites sends each input that crashes govmomi's toolbox
// (the reference's table): each gets an error reply, no panic, and no
// allocation the request's lengths ask for.
func TestGovmomiCrashSites(t *testing.T) {
	s, root := setup(t)
	withCred := func(op uint32, body, cred []byte) []byte {
		return args(cat(fields(op, body, cred).bytes(), body, cred))
	}
	tests := []struct {
		name string
		args []byte
		want string
	}{
		{"command.go:118 empty arguments", nil, badHeader},
		{"command.go:130 just a quote", []byte(`"`), badHeader},
		{"command.go:156 BodyLength beyond the data", func() []byte {
			f := fields(177, nil, nil)
			f.blen, f.total = 1<<20, 51+1<<20
			return args(f.bytes())
		}(), badHeader},
		{"command.go:158 CredentialLength beyond the data", func() []byte {
			f := fields(177, nil, nil)
			f.clen, f.total = 0xFFFFFF00, 51+0xFFFFFF00
			return args(f.bytes())
		}(), badHeader},
		{"protocol.go credential shorter than its lengths", withCred(178, dirBody(root+"/x", 0), le32(5)), "10001 0 \x00"},
		{"credential without its NUL", withCred(178, dirBody(root+"/x", 0), cat(le32(4), le32(6), []byte("cm9vdA=="))), "10001 0 \x00"},
		{"credential not base64", withCred(178, dirBody(root+"/x", 0), cat(le32(4), le32(6), cstr("!!!!"))), "10001 0 \x00"},
		{"credential escape at the end", withCred(178, dirBody(root+"/x", 0), cat(le32(4), le32(6), cstr(`cm9v\`))), "10001 0 \x00"},
		{"credential without the name's NUL", withCred(178, dirBody(root+"/x", 0),
			cat(le32(4), le32(0), cstr(base64.StdEncoding.EncodeToString([]byte("root"))))), "10001 0 \x00"},
		{"command.go:512 ListFiles negative index", request(177, listBody(root, "", -5, 10, 0)), "3 0 \x00"},
		{"command.go:516 ListFiles huge offset", request(177, listBody(root, "", 0, 10, 1<<62)), "3 0 \x00"},
		{"protocol.go ListProcessesEx NumPids 2^32-1", request(186, cat(le32(0), le32(0), le32(0xFFFFFFFF))), "10001 0 \x00"},
		{"ListProcessesEx NumPids one more than sent", request(186, cat(le32(0), le32(0), le32(2), le64(1))), "10001 0 \x00"},
		{"ReadEnvVariables 2^32-1 names", request(187, cat(le32(0xFFFFFFFF), le32(0))), "10001 0 \x00"},
		{"StartProgram env count past its bytes", request(185, cat(startBody("/bin/true", "", "")[:13], le32(0xFFFFFFFF), le32(1), cstr("/bin/true"), []byte{0})), "10001 0 \x00"},
		{"HGFS size 2^32-1", request(84, cat(le32(0xFFFFFFFF), le32(0))), "10001 0 \x00"},
		{"string length 2^32-1", request(194, cat(le32(0), le32(0xFFFFFFFF))), "10001 0 \x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got := call(t, s, tc.args)
			runtime.ReadMemStats(&after)
			if got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("allocated %d bytes", grew)
			}
		})
	}
}
