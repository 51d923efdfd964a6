package channel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestrpc/guestrpc/internal/testenv"
	"github.com/guestrpc/guestrpc/wire"
)

// openPty returns a pty master and the path of its slave. The master plays
// the guest's virtio port: like the port, it reads EIO and polls POLLHUP
// while its peer (the slave, playing the host's chardev socket) is closed.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal to stand in for the virtio port (open /dev/ptmx: %v)", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ptsname: %v", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), fmt.Sprintf("/dev/pts/%d", n)
}

// openHostEnd opens the slave in raw mode, as a host connecting to the
// chardev socket.
func openHostEnd(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVirtioReconnect(t *testing.T) {
	master, slave := openPty(t)
	l := newVirtioListener(master, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for round := range 5 {
		host := NewStream(openHostEnd(t, slave), StreamOptions{})
		// The host speaks first, as an rpc client does with HELLO.
		ping := &wire.Frame{Type: wire.TypePing, Payload: []byte{byte(round), 1, 2, 3, 4, 5, 6, 7}}
		if err := host.Send(ctx, ping); err != nil {
			t.Fatalf("round %d: host send: %v", round, err)
		}
		guest, err := l.Accept(ctx)
		if err != nil {
			t.Fatalf("round %d: accept: %v", round, err)
		}
		if p := PeerOf(guest); p != (PeerInfo{Transport: TransportVirtio}) {
			t.Fatalf("round %d: session peer %+v, want the virtio transport (the hypervisor's)", round, p)
		}
		var f wire.Frame
		if err := guest.Receive(ctx, &f); err != nil {
			t.Fatalf("round %d: guest receive: %v", round, err)
		}
		if f.Type != wire.TypePing || f.Payload[0] != byte(round) {
			t.Fatalf("round %d: guest got %v %x, want the host's ping", round, f.Type, f.Payload)
		}
		if err := guest.Send(ctx, &wire.Frame{Type: wire.TypePong, Payload: f.Payload}); err != nil {
			t.Fatalf("round %d: guest send: %v", round, err)
		}
		if err := host.Receive(ctx, &f); err != nil || f.Type != wire.TypePong {
			t.Fatalf("round %d: host receive: %v %v", round, f.Type, err)
		}
		// The host goes away: the session reads EOF and ends.
		host.Close()
		if err := guest.Receive(ctx, &f); err == nil {
			t.Fatalf("round %d: guest receive after host left succeeded", round)
		}
		guest.Close()

		// While nobody is connected the port reports POLLHUP on every
		// poll; the listener must back off instead of spinning.
		if round == 0 {
			actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := l.Accept(actx)
			acancel()
			if err != context.DeadlineExceeded {
				t.Fatalf("accept with no host: got %v, want deadline exceeded", err)
			}
			// 500ms at a 10ms..250ms doubling back-off is about 7 polls;
			// a busy loop would be thousands.
			if n := l.polls.Load(); n == 0 || n > 20 {
				t.Fatalf("listener polled %d times in 500ms without a host; want a few (back-off)", n)
			}
		}
	}
}

func TestVirtioCloseUnblocksAccept(t *testing.T) {
	master, slave := openPty(t)
	l := newVirtioListener(master, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept(context.Background())
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	l.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("accept after close succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("accept did not return after Close")
	}
}

func TestFindVirtioPort(t *testing.T) {
	sys, dev := t.TempDir(), t.TempDir()
	mk := func(port, name string) {
		d := sys + "/class/virtio-ports/" + port
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(d+"/name", []byte(name+"\n"), 0o644)
		os.WriteFile(dev+"/"+port, nil, 0o644)
	}
	mk("vport0p1", "org.other")
	mk("vport0p2", "org.guestrpc.0")
	os.MkdirAll(dev+"/vtcon", 0o755)
	os.WriteFile(dev+"/vtcon/bhyve.port", nil, 0o644)
	opts := VirtioOptions{SysfsRoot: sys, DevRoot: dev}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"org.guestrpc.0", dev + "/vport0p2", true},
		{"org.other", dev + "/vport0p1", true},
		{"bhyve.port", dev + "/vtcon/bhyve.port", true},
		{"missing", "", false},
		{"../etc", "", false},
		{"", "", false},
	} {
		got, err := FindVirtioPort(tc.name, opts)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("FindVirtioPort(%q) = %q, %v; want %q ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func helloFrame(name string) *wire.Frame {
	return &wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 1 << 16, Name: name})}
}

func TestVirtioHelloMidSessionStartsNextSession(t *testing.T) {
	master, slave := openPty(t)
	l := newVirtioListener(master, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	host := NewStream(openHostEnd(t, slave), StreamOptions{})
	defer host.Close()

	// The old host's last frame, then the new host's HELLO, with no
	// hang-up seen in between.
	host.Send(ctx, helloFrame("old"))
	guest, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f wire.Frame
	if err := guest.Receive(ctx, &f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("first frame: %v %v", f.Type, err)
	}
	host.Send(ctx, helloFrame("new"))
	if err := guest.Receive(ctx, &f); err == nil {
		t.Fatalf("second HELLO delivered in the same session")
	}
	guest.Close()
	next, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := next.Receive(ctx, &f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("next session's first frame: %v %v", f.Type, err)
	}
	h, err := wire.ParseHello(f.Payload)
	if err != nil || h.Name != "new" {
		t.Fatalf("next session's HELLO = %+v, %v; want the new host's", h, err)
	}
}

func TestVirtioResyncsAfterGarbage(t *testing.T) {
	master, slave := openPty(t)
	l := newVirtioListener(master, VirtioAddr{Name: "test", Path: slave}, VirtioOptions{})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hostFile := openHostEnd(t, slave)
	host := NewStream(hostFile, StreamOptions{})
	defer host.Close()

	// A host cut off mid-frame leaves a header whose payload never came;
	// the next host's bytes get read as garbage.
	garbage := []byte{0, 0, 0, 5, 0, 0, 0, 9, 0xEE, 0, 'x', 'y', 'z'}
	if _, err := hostFile.Write(garbage); err != nil {
		t.Fatal(err)
	}
	guest, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f wire.Frame
	if err := guest.Receive(ctx, &f); !errors.Is(err, wire.ErrUnknownType) {
		t.Fatalf("garbage: got %v, want ErrUnknownType", err)
	}
	guest.Close()
	// More noise, then a real HELLO: the next session starts at the HELLO.
	hostFile.Write([]byte("noise GSRP \x00\x00\x01"))
	host.Send(ctx, helloFrame("resynced"))
	next, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := next.Receive(ctx, &f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("after resync: %v %v", f.Type, err)
	}
	if h, err := wire.ParseHello(f.Payload); err != nil || h.Name != "resynced" {
		t.Fatalf("after resync HELLO = %+v, %v", h, err)
	}
}
