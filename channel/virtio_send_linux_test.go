package channel

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/wire"
)

// openPacketPort returns a listener over one end of a SOCK_SEQPACKET
// socket pair standing in for a virtio-console port, and the other end
// as the host. Each write(2) or splice(2) into the port arrives at the
// host as one packet, as each write to a real port is one buffer the
// guest hands the host (with a VM exit), so the packets show how the
// port was written.
func openPacketPort(t *testing.T) (*VirtioListener, int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range p {
		// Room for the largest frame in one packet.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	l := newVirtioListener(os.NewFile(uintptr(p[0]), "port"), VirtioAddr{Name: "test", Path: "port"}, VirtioOptions{})
	t.Cleanup(func() { l.Close(); unix.Close(p[1]) })
	return l, p[1]
}

// acceptPacket has the host send a PING, as a host speaks first, and
// accepts the session it opens.
func acceptPacket(t *testing.T, ctx context.Context, l *VirtioListener, host int) Channel {
	t.Helper()
	if _, err := unix.Write(host, wire.AppendFrame(nil, &wire.Frame{Type: wire.TypePing, Payload: make([]byte, 8)})); err != nil {
		t.Fatal(err)
	}
	ch, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f wire.Frame
	if err := ch.Receive(ctx, &f); err != nil || f.Type != wire.TypePing {
		t.Fatalf("first frame %v: %v", f.Type, err)
	}
	return ch
}

// packets reads n packets from the host end.
func packets(t *testing.T, host, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 1<<20)
	for range n {
		m, err := unix.Read(host, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

// TestVirtioSendFileHeaderApart: on a virtio-console port a FileSender
// writes each frame's header as a port buffer of its own and splices
// the payload from the file as the next, so that the payload starts a
// splice (the driver copies each page at the offset the splice's earlier
// bytes leave, and a header ahead of it split every page in two), and
// the frames carry the file's bytes in order.
func TestVirtioSendFileHeaderApart(t *testing.T) {
	content := make([]byte, 3*1000+17)
	for i := range content {
		content[i] = byte(i*13 + i/256)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, host := openPacketPort(t)
	ch := acceptPacket(t, ctx, l, host)
	defer ch.Close()
	sf, ok := ch.(interface {
		SendFile(syscall.Conn) (*FileSender, error)
	})
	if !ok {
		t.Fatalf("a virtio session channel (%T) has no SendFile", ch)
	}
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fs, err := sf.SendFile(src)
	if err != nil {
		t.Fatalf("SendFile on a virtio port: %v", err)
	}
	defer fs.Close()
	var want [][]byte
	for off := 0; off < len(content); off += 1000 {
		n, err := fs.Fill(1000)
		if err != nil {
			t.Fatal(err)
		}
		f := &wire.Frame{StreamID: 7, Type: wire.TypeData, Flags: 1, Payload: content[off : off+n]}
		frame := wire.AppendFrame(nil, f)
		want = append(want, frame[:wire.HeaderSize], frame[wire.HeaderSize:])
		if err := fs.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, packets(t, host, len(want))); diff != "" {
		t.Errorf("packets at the host (-header, then payload, per frame +got):\n%s", diff)
	}
}

// TestPortIovecs: a read of a port is cut into page-sized iovecs, so
// that readv(2) takes one of the port's page buffers per iovec, and no
// more than maxPortBuffers of them.
func TestPortIovecs(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{1, []int{1}},
		{portBuffer, []int{portBuffer}},
		{2*portBuffer + 10, []int{portBuffer, portBuffer, 10}},
		{maxPortBuffers*portBuffer + 1, func() []int {
			w := make([]int, maxPortBuffers)
			for i := range w {
				w[i] = portBuffer
			}
			return w
		}()},
	} {
		p := make([]byte, tc.n)
		var got []int
		off := 0
		for _, v := range portIovecs(nil, p) {
			if &v[0] != &p[off] {
				t.Errorf("%d bytes: iovec at %d does not follow the one before", tc.n, off)
			}
			got = append(got, len(v))
			off += len(v)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%d bytes: iovec lengths (-want +got):\n%s", tc.n, diff)
		}
	}
}

// TestVirtioLargeFrames: frames larger than a port's page buffers, read
// with readv into the payload's buffer, arrive whole and in order.
func TestVirtioLargeFrames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	master, slave := openPty(t)
	l := newVirtioListener(master, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	defer l.Close()
	host := NewStream(openHostEnd(t, slave), StreamOptions{})
	defer host.Close()
	var want []wire.Frame
	for i, n := range []int{300 << 10, 5, 64<<10 + 3, 256 << 10} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i + j*7 + j>>12)
		}
		want = append(want, wire.Frame{StreamID: uint32(i + 1), Type: wire.TypeData, Payload: p})
	}
	sent := make(chan error, 1)
	go func() {
		for i := range want {
			if err := host.Send(ctx, &want[i]); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	guest, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	var got []wire.Frame
	for range want {
		var f wire.Frame
		if err := guest.Receive(ctx, &f); err != nil {
			t.Fatal(err)
		}
		got = append(got, wire.Frame{StreamID: f.StreamID, Type: f.Type, Flags: f.Flags, Payload: bytes.Clone(f.Payload)})
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-sent +received):\n%s", diff)
	}
}

// A virtio-console session asks an rpc server for VirtioWindow
// (rpc's windowHinter).
var _ interface{ RecvWindow() uint32 } = (*virtioChannel)(nil)
