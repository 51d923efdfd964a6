//go:build linux

package vix_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/internal/bridge"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox/vix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// agentSrv is an agent's server: process.*, file.* confined to root,
// hgfs.packet. empty leaves it without methods (fuzzing: nothing runs).
func agentSrv(t testing.TB, root string, empty bool) *rpc.Server {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{})
	if empty {
		return srv
	}
	pm, err := process.NewService(process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pm.Close() })
	pm.Register(srv)
	fs, err := files.NewService(files.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hgfs.NewService(hgfs.Options{Files: fs.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close(); fs.Close() })
	fs.Register(srv)
	hs.Register(srv)
	return srv
}

// newVIX serves VIX over a bridge to srv, as the agent does.
func newVIX(t testing.TB, srv *rpc.Server, mod func(*vix.Options)) *vix.Server {
	t.Helper()
	bc, err := bridge.Open(context.Background(), srv, channel.PeerInfo{Transport: channel.TransportVMware}, "vix", nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := vix.Options{Client: bc.Client, Authenticate: vix.TrustVMX, Version: "9.9.9", Product: "guestrpc",
		OSName: "testos", OSNameFull: "Test OS 1.0", GuestName: "guest1",
		Environ: func() []string { return []string{"HOME=/root", "PATH=/bin", "ODD=<a&b>"} }}
	if mod != nil {
		mod(&opts)
	}
	s, err := vix.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); bc.Close() })
	return s
}

func setup(t *testing.T) (*vix.Server, string) {
	t.Helper()
	root := t.TempDir()
	return newVIX(t, agentSrv(t, root, false), nil), root
}

// The request layout, written out by hand from vixCommands.h (the
// table in the reference): no encoder of the package under test.

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// cstr is s and its NUL.
func cstr(s string) []byte { return append([]byte(s), 0) }

// hdrFields are the header's fields, to build valid and invalid ones.
type hdrFields struct {
	magic                   uint32
	version                 uint16
	total, hlen, blen, clen uint32
	flags                   uint8
	op, reqFlags            uint32
	credType                uint32
}

func (h hdrFields) bytes() []byte {
	return cat(le32(h.magic), le16(h.version), le32(h.total), le32(h.hlen), le32(h.blen), le32(h.clen),
		[]byte{h.flags}, le32(h.op), le32(h.reqFlags), le32(0) /*timeout*/, le64(0x1122334455667788), /*cookie*/
		le32(7) /*clientHandleId*/, le32(h.credType))
}

// credential is a NAME_PASSWORD_OBFUSCATED credential for name/pw.
func credential(name, pw string) []byte {
	enc := base64.StdEncoding.EncodeToString([]byte(name + "\x00" + pw + "\x00"))
	return cat(le32(uint32(len(name))), le32(uint32(len(pw))), cstr(enc))
}

var testCred = credential("root", "secret")

// fields are the header of a valid request of op with body and cred.
func fields(op uint32, body, cred []byte) hdrFields {
	return hdrFields{magic: 0xd00d0001, version: 5, total: uint32(51 + len(body) + len(cred)), hlen: 51,
		blen: uint32(len(body)), clen: uint32(len(cred)), flags: 0x01, op: op, credType: 4}
}

// args is the TCLO argument of Vix_1_Relayed_Command carrying msg.
func args(msg []byte) []byte { return cat([]byte(`"VixRelayedCommand"`), []byte{0}, msg) }

func request(op uint32, body []byte) []byte {
	return args(cat(fields(op, body, testCred).bytes(), body, testCred))
}

func call(t testing.TB, s *vix.Server, a []byte) string {
	t.Helper()
	reply, err := s.Handle(testCtx(t), a)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(reply) > vix.MaxReply {
		t.Fatalf("reply of %d bytes", len(reply))
	}
	return string(reply)
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// agentSrvRO is agentSrv with the files served read-only.
func agentSrvRO(t testing.TB, root string) *rpc.Server {
	t.Helper()
	srv := rpc.NewServer(rpc.ServerOptions{})
	fs, err := files.NewService(files.Options{Root: root, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	fs.Register(srv)
	return srv
}
