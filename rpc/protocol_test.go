package rpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/internal/testutil"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/wire"
)

// rawPeer speaks raw frames to a Server over a unix socket pair, so tests
// can send what the Client never would.
type rawPeer struct {
	t      *testing.T
	conn   net.Conn
	enc    *wire.Encoder
	dec    *wire.Decoder
	served chan struct{}
	err    error // ServeChannel's result, once served is closed
}

// newRawPeer starts srv.ServeChannel on one end of a socket pair. With
// handshake set it exchanges HELLOs first.
func newRawPeer(t *testing.T, srv *rpc.Server, handshake bool) *rawPeer {
	t.Helper()
	a, z := testutil.SocketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := &rawPeer{t: t, conn: z, enc: wire.NewEncoder(z), dec: wire.NewDecoder(z, wire.LimitMaxPayload), served: make(chan struct{})}
	go func() {
		defer close(p.served)
		p.err = srv.ServeChannel(ctx, channel.NewStream(a, channel.StreamOptions{}))
	}()
	t.Cleanup(func() {
		cancel()
		z.Close()
		<-p.served
	})
	_ = z.SetDeadline(time.Now().Add(hang)) // only so that a hang fails
	if handshake {
		p.send(wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{
			Version: wire.Version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow, Name: "raw",
		})})
		p.expectHello()
	}
	return p
}

func (p *rawPeer) send(f wire.Frame) {
	p.t.Helper()
	if err := p.enc.Encode(&f); err != nil {
		p.t.Fatalf("sending %v: %v", &f, err)
	}
}

// next returns the next frame from the server, its payload copied.
func (p *rawPeer) next() wire.Frame {
	p.t.Helper()
	var f wire.Frame
	if err := p.dec.Decode(&f); err != nil {
		p.t.Fatalf("reading a frame: %v", err)
	}
	f.Payload = append([]byte(nil), f.Payload...)
	return f
}

func (p *rawPeer) expectHello() wire.Hello {
	p.t.Helper()
	f := p.next()
	if f.Type != wire.TypeHello || f.StreamID != 0 {
		p.t.Fatalf("first frame from the server: %v, want HELLO", &f)
	}
	h, err := wire.ParseHello(f.Payload)
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

func (p *rawPeer) open(id uint32, flags wire.Flags, timeout time.Duration, method string, args string) {
	p.t.Helper()
	p.send(wire.Frame{StreamID: id, Type: wire.TypeOpen, Flags: flags, Payload: wire.AppendOpen(nil, timeout, method, []byte(args))})
}

type statusFrame struct {
	Stream  uint32
	Code    rpc.Code
	Message string
	Result  string
}

func (p *rawPeer) expectStatus() statusFrame {
	p.t.Helper()
	f := p.next()
	if f.Type != wire.TypeStatus {
		p.t.Fatalf("got %v, want STATUS", &f)
	}
	st, err := wire.ParseStatus(f.Payload)
	if err != nil {
		p.t.Fatal(err)
	}
	return statusFrame{f.StreamID, rpc.Code(st.Code), string(st.Message), string(st.Result)}
}

// expectClosed reads until the server closes the connection, then waits
// for ServeChannel and returns its error.
func (p *rawPeer) expectClosed() error {
	p.t.Helper()
	for {
		var f wire.Frame
		err := p.dec.Decode(&f)
		if err == nil {
			continue // frames the server sent before it gave up
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			p.t.Fatalf("the server did not close the connection")
		}
		break
	}
	recv(p.t, "ServeChannel to return", p.served)
	return p.err
}

func (p *rawPeer) ping(v uint64) {
	p.t.Helper()
	p.send(wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, v)})
	f := p.next()
	got, err := wire.ParsePing(f.Payload)
	if f.Type != wire.TypePong || err != nil || got != v {
		p.t.Fatalf("reply to PING %d: %v (%d, %v), want PONG %d", v, &f, got, err, v)
	}
}

func TestHandshake(t *testing.T) {
	srv := rpc.NewServer(rpc.ServerOptions{Name: "agent-x", Window: 100 << 10})
	p := newRawPeer(t, srv, false)
	// The host speaks first; the agent answers after reading it.
	p.send(wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: wire.MinMaxPayload, Name: "raw"})})
	h := p.expectHello()
	want := wire.Hello{Version: wire.Version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: 100 << 10, Name: "agent-x"}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("server HELLO (-want +got):\n%s", diff)
	}
	p.ping(42)
	p.open(1, wire.FlagFin, 0, "sys.ping", "")
	if st := p.expectStatus(); st != (statusFrame{Stream: 1}) {
		t.Errorf("sys.ping: %+v", st)
	}
}

// TestGarbageFirstFrame: a peer whose first frame is not a valid HELLO
// is disconnected and ServeChannel reports why.
func TestGarbageFirstFrame(t *testing.T) {
	hello := func(magic string, version uint16) []byte {
		b := wire.AppendHello(nil, wire.Hello{Version: version, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow})
		copy(b, magic)
		return b
	}
	tests := []struct {
		name    string
		input   []byte
		wantErr error // nil: any error
	}{
		{"DATA first", wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: []byte("x")}), nil},
		{"OPEN first", wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeOpen, Payload: wire.AppendOpen(nil, 0, "sys.ping", nil)}), nil},
		{"HELLO on stream 1", wire.AppendFrame(nil, &wire.Frame{StreamID: 1, Type: wire.TypeHello, Payload: hello("GSRP", 1)}), nil},
		{"HELLO with bad magic", wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeHello, Payload: hello("GSRQ", 1)}), wire.ErrMalformed},
		{"HELLO of version 2", wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeHello, Payload: hello("GSRP", 2)}), nil},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: agent\r\n\r\n"), wire.ErrUnknownType},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0}, wire.ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{}), false)
			if _, err := p.conn.Write(tt.input); err != nil {
				t.Fatal(err)
			}
			err := p.expectClosed()
			if err == nil {
				t.Fatal("ServeChannel returned nil")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ServeChannel: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !strings.Contains(err.Error(), "protocol violation") {
				t.Errorf("ServeChannel: %v, want a protocol violation", err)
			}
		})
	}
	// A peer that hangs up before its HELLO is an error too.
	p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{}), false)
	p.conn.(interface{ CloseWrite() error }).CloseWrite()
	if err := p.expectClosed(); err == nil {
		t.Error("ServeChannel returned nil for a peer that sent no HELLO")
	}
}

// TestProtocolViolations: after the handshake, a frame that breaks the
// protocol ends the connection, and ServeChannel returns the reason.
func TestProtocolViolations(t *testing.T) {
	frame := func(id uint32, ty wire.Type, flags wire.Flags, payload []byte) []byte {
		return wire.AppendFrame(nil, &wire.Frame{StreamID: id, Type: ty, Flags: flags, Payload: payload})
	}
	openBlock := frame(1, wire.TypeOpen, 0, wire.AppendOpen(nil, 0, "block", nil))
	pingOn := func(id uint32) []byte {
		return frame(id, wire.TypeOpen, wire.FlagFin, wire.AppendOpen(nil, 0, "sys.ping", nil))
	}
	tests := []struct {
		name    string
		input   []byte
		wantErr error
	}{
		{"second HELLO", frame(0, wire.TypeHello, 0, wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow})), nil},
		{"OPEN on an even stream", frame(2, wire.TypeOpen, 0, wire.AppendOpen(nil, 0, "sys.ping", nil)), nil},
		{"OPEN of an open stream", append(openBlock, openBlock...), nil},
		{"CLOSE with a payload", append(openBlock, frame(1, wire.TypeClose, 0, []byte("x"))...), nil},
		{"WINDOW of zero", append(openBlock, frame(1, wire.TypeWindow, 0, []byte{0, 0, 0, 0})...), wire.ErrMalformed},
		{"WINDOW of 3 bytes", frame(1, wire.TypeWindow, 0, []byte{0, 0, 1}), wire.ErrMalformed},
		{"PING of 7 bytes", frame(0, wire.TypePing, 0, make([]byte, 7)), wire.ErrMalformed},
		{"unknown type", []byte{0, 0, 0, 0, 0, 0, 0, 1, 42, 0}, wire.ErrUnknownType},
		{"frame over the cap", []byte{0, 0x10, 0, 1, 0, 0, 0, 1, 3, 0}, wire.ErrFrameTooLarge},
		{"truncated frame", []byte{0, 0, 0, 8, 0, 0, 0, 0, 8, 0, 1, 2}, io.ErrUnexpectedEOF},
		{"PING on stream 5", frame(5, wire.TypePing, 0, wire.AppendPing(nil, 1)), nil},
		{"PONG on stream 3", frame(3, wire.TypePong, 0, wire.AppendPing(nil, 1)), nil},
		{"DATA on stream 0", frame(0, wire.TypeData, 0, []byte("x")), nil},
		{"stream id reused", append(pingOn(101), pingOn(101)...), nil},
		{"stream ids decreasing", append(pingOn(101), pingOn(51)...), nil},
		{"reserved flag 0x02 on OPEN", frame(1, wire.TypeOpen, 0x02, wire.AppendOpen(nil, 0, "sys.ping", nil)), nil},
		{"reserved flags 0x0e on DATA", append(openBlock, frame(1, wire.TypeData, 0x0e, []byte("x"))...), nil},
		{"reserved flag 0x08 on PING", frame(0, wire.TypePing, 0x08, wire.AppendPing(nil, 1)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handlerErr := make(chan error, 1)
			srv := rpc.NewServer(rpc.ServerOptions{})
			srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
				<-ctx.Done()
				handlerErr <- ctx.Err()
				return nil, nil
			})
			p := newRawPeer(t, srv, true)
			if _, err := p.conn.Write(tt.input); err != nil {
				t.Fatal(err)
			}
			p.conn.(interface{ CloseWrite() error }).CloseWrite()
			err := p.expectClosed()
			if err == nil {
				t.Fatal("ServeChannel returned nil")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ServeChannel: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !strings.Contains(err.Error(), "protocol violation") {
				t.Errorf("ServeChannel: %v, want a protocol violation", err)
			}
			if len(tt.input) > len(openBlock) && string(tt.input[:len(openBlock)]) == string(openBlock) {
				if err := recv(t, "the open call to be canceled", handlerErr); !errors.Is(err, context.Canceled) {
					t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
				}
			}
		})
	}
}

// TestMalformedOpen: an OPEN whose payload does not parse is answered
// with InvalidArgument on its stream; the connection carries on.
func TestMalformedOpen(t *testing.T) {
	openBytes := func(timeout uint64, mlen uint16, rest string) []byte {
		b := binary.BigEndian.AppendUint64(nil, timeout)
		b = binary.BigEndian.AppendUint16(b, mlen)
		return append(b, rest...)
	}
	tests := []struct {
		name     string
		payload  []byte
		wantCode rpc.Code
	}{
		{"empty", nil, rpc.InvalidArgument},
		{"short", []byte{0, 0, 0}, rpc.InvalidArgument},
		{"method length 0", openBytes(0, 0, "{}"), rpc.InvalidArgument},
		{"method length 257", openBytes(0, 257, strings.Repeat("m", 257)), rpc.InvalidArgument},
		{"method truncated", openBytes(0, 200, "sys.ping"), rpc.InvalidArgument},
		{"timeout overflows", openBytes(1<<63, 8, "sys.ping"), rpc.InvalidArgument},
		{"unknown method", openBytes(0, 7, "sys.pin"), rpc.Unimplemented},
		{"method with trailing NUL", openBytes(0, 9, "sys.ping\x00"), rpc.Unimplemented},
	}
	p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{}), true)
	id := uint32(1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.send(wire.Frame{StreamID: id, Type: wire.TypeOpen, Flags: wire.FlagFin, Payload: tt.payload})
			st := p.expectStatus()
			if st.Stream != id || st.Code != tt.wantCode || st.Message == "" {
				t.Errorf("reply: %+v, want %v with a message on stream %d", st, tt.wantCode, id)
			}
			id += 2
			// Still serving.
			p.open(id, wire.FlagFin, 0, "sys.ping", "")
			if st := p.expectStatus(); st != (statusFrame{Stream: id}) {
				t.Errorf("sys.ping after it: %+v", st)
			}
			id += 2
		})
	}
}

// TestOpenTimeoutEnforced: the agent enforces the OPEN timeout itself,
// with no CANCEL from the host.
func TestOpenTimeoutEnforced(t *testing.T) {
	type report struct {
		HasDeadline bool
		Err         error
	}
	reports := make(chan report, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("wait", func(ctx context.Context, call *rpc.Request) (any, error) {
		_, ok := ctx.Deadline()
		<-ctx.Done()
		reports <- report{ok, ctx.Err()}
		return nil, ctx.Err()
	})
	p := newRawPeer(t, srv, true)
	p.open(1, wire.FlagFin, 20*time.Millisecond, "wait", "")
	st := p.expectStatus()
	if st.Stream != 1 || st.Code != rpc.DeadlineExceeded {
		t.Errorf("STATUS %+v, want DeadlineExceeded on stream 1", st)
	}
	r := recv(t, "the handler", reports)
	if diff := cmp.Diff(report{true, context.DeadlineExceeded}, r, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("handler ctx (-want +got):\n%s", diff)
	}
}

// TestCancelFrame: a CANCEL from the host cancels the handler, and the
// agent sends nothing more on that stream.
func TestCancelFrame(t *testing.T) {
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("block", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return "too late", nil
	})
	p := newRawPeer(t, srv, true)
	p.open(1, 0, 0, "block", "")
	recv(t, "the handler to start", started)
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeCancel})
	if err := recv(t, "the handler's ctx", handlerErr); err != context.Canceled {
		t.Errorf("handler ctx.Err() = %v, want context.Canceled", err)
	}
	// The next frame is the PONG: no STATUS for the canceled stream.
	p.ping(7)
}

// TestFlowControlViolation: DATA beyond the window the agent granted
// resets the stream with CANCEL, and the connection carries on.
func TestFlowControlViolation(t *testing.T) {
	const window = 16 << 10
	type report struct {
		CtxErr, ReadErr error
		Read            int64
	}
	started := make(chan struct{})
	reports := make(chan report, 1)
	srv := rpc.NewServer(rpc.ServerOptions{Window: window})
	srv.HandleFunc("stall", func(ctx context.Context, call *rpc.Request) (any, error) {
		close(started)
		<-ctx.Done()
		n, err := io.Copy(io.Discard, call)
		reports <- report{ctx.Err(), err, n}
		return nil, err
	})
	p := newRawPeer(t, srv, true)
	p.open(1, 0, 0, "stall", "")
	recv(t, "the handler to start", started)
	// Exactly the window is within the rules: the PING is answered and
	// nothing else happens.
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: make([]byte, window-100)})
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeData, Flags: wire.Flags(0).WithLane(3), Payload: make([]byte, 100)})
	p.ping(1)
	// One byte more is not.
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: []byte{1}})
	if f := p.next(); f.Type != wire.TypeCancel || f.StreamID != 1 {
		t.Fatalf("after overrunning the window: %v, want CANCEL on stream 1", &f)
	}
	r := recv(t, "the handler", reports)
	if r.CtxErr != context.Canceled || !errors.Is(r.ReadErr, rpc.ErrResourceExhausted) || r.Read != window-100 {
		t.Errorf("handler: ctx %v, read %d bytes then %v; want Canceled, %d bytes, ResourceExhausted", r.CtxErr, r.Read, r.ReadErr, window-100)
	}
	// Late frames for the reset stream are ignored, and the connection
	// serves on; no STATUS for stream 1 ever comes.
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeData, Payload: []byte("late")})
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeClose})
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeWindow, Payload: wire.AppendWindow(nil, 5)})
	p.send(wire.Frame{StreamID: 99, Type: wire.TypeCancel})
	p.open(3, wire.FlagFin, 0, "sys.ping", "")
	if st := p.expectStatus(); st != (statusFrame{Stream: 3}) {
		t.Errorf("sys.ping after the reset: %+v", st)
	}
}

// TestServerRespectsPeerWindow: the agent sends no more than the window
// the host granted in HELLO, and resumes on WINDOW.
func TestServerRespectsPeerWindow(t *testing.T) {
	const window = wire.MinMaxPayload
	srv := rpc.NewServer(rpc.ServerOptions{})
	srv.HandleFunc("flood", func(ctx context.Context, call *rpc.Request) (any, error) {
		_, err := call.Write(make([]byte, 3*window))
		return nil, err
	})
	p := newRawPeer(t, srv, false)
	p.send(wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.MinMaxPayload, InitialWindow: window})})
	p.expectHello()
	p.open(1, wire.FlagFin, 0, "flood", "")
	got := 0
	for got < window {
		f := p.next()
		if f.Type != wire.TypeData || len(f.Payload) > wire.MinMaxPayload {
			t.Fatalf("got %v after %d bytes, want DATA within the payload cap", &f, got)
		}
		got += len(f.Payload)
	}
	// The window is used up: the next frame must answer this PING.
	p.ping(3)
	p.send(wire.Frame{StreamID: 1, Type: wire.TypeWindow, Payload: wire.AppendWindow(nil, 2*window)})
	for got < 3*window {
		f := p.next()
		if f.Type != wire.TypeData {
			t.Fatalf("got %v after %d bytes, want DATA", &f, got)
		}
		got += len(f.Payload)
	}
	if st := p.expectStatus(); st != (statusFrame{Stream: 1}) || got != 3*window {
		t.Errorf("after %d bytes: %+v", got, st)
	}
}

// TestClientFlowControlViolation: a server that sends more DATA than the
// client's window gets the stream reset, and the caller sees
// ResourceExhausted.
// rawAgent returns a Client connected to a test playing the agent with
// raw frames on enc and dec, past the HELLO exchange.
func rawAgent(t *testing.T, opts rpc.ClientOptions) (c *rpc.Client, enc *wire.Encoder, dec *wire.Decoder) {
	t.Helper()
	a, z := testutil.SocketPair(t)
	_ = z.SetDeadline(time.Now().Add(hang))
	enc, dec = wire.NewEncoder(z), wire.NewDecoder(z, 0)
	// The socket buffers the HELLO until NewClient reads it.
	if err := enc.Encode(&wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: wire.DefaultMaxPayload, InitialWindow: rpc.DefaultWindow})}); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(testCtx(t), channel.NewStream(a, channel.StreamOptions{}), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var f wire.Frame
	if err := dec.Decode(&f); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("client HELLO: %v, %v", &f, err)
	}
	return c, enc, dec
}

func TestClientFlowControlViolation(t *testing.T) {
	c, enc, dec := rawAgent(t, rpc.ClientOptions{Window: wire.MinMaxPayload})
	ctx := testCtx(t)
	var f wire.Frame
	s, err := c.Open(ctx, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&f); err != nil || f.Type != wire.TypeOpen {
		t.Fatalf("client OPEN: %v, %v", &f, err)
	}
	if err := enc.Encode(&wire.Frame{StreamID: f.StreamID, Type: wire.TypeData, Payload: make([]byte, wire.MinMaxPayload+1)}); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&f); err != nil || f.Type != wire.TypeCancel {
		t.Fatalf("after overrunning the client's window: %v, %v; want CANCEL", &f, err)
	}
	if err := s.Wait(nil); !errors.Is(err, rpc.ErrResourceExhausted) {
		t.Errorf("Wait: %v, want ResourceExhausted", err)
	}
	if _, err := io.ReadAll(s); !errors.Is(err, rpc.ErrResourceExhausted) {
		t.Errorf("Read: %v, want ResourceExhausted", err)
	}
	if n := c.NumStreams(); n != 0 {
		t.Errorf("the reset stream is still in the client's table (%d streams)", n)
	}
}

// TestPingFloodDisconnects: a peer that sends PINGs but never reads the
// PONGs is cut off once the control queue is full, instead of growing the
// agent's memory without bound.
func TestPingFloodDisconnects(t *testing.T) {
	p := newRawPeer(t, rpc.NewServer(rpc.ServerOptions{}), true)
	var batch []byte
	for i := range 1000 {
		batch = wire.AppendFrame(batch, &wire.Frame{Type: wire.TypePing, Payload: wire.AppendPing(nil, uint64(i))})
	}
	sent := 0
	for sent < 64<<20 { // far beyond any socket buffer plus the queue
		n, err := p.conn.Write(batch)
		sent += n
		if err != nil {
			break
		}
	}
	recv(t, "ServeChannel to return", p.served)
	if p.err == nil || !strings.Contains(p.err.Error(), "not reading") {
		t.Errorf("ServeChannel: %v, want a disconnect for not reading", p.err)
	}
}

// TestDataFrameSize: a server's DATA frames are an eighth of the window
// the peer grants, within 256 and 512 KiB, and never above the peer's
// max payload.
func TestDataFrameSize(t *testing.T) {
	const total = 4 << 20
	tests := []struct {
		name            string
		window, maxPay  uint32
		wantLargestData int
	}{
		{"a host's client", rpc.DefaultClientWindow, wire.DefaultMaxPayload, 512 << 10},
		{"an agent's window", rpc.DefaultWindow, wire.DefaultMaxPayload, 256 << 10},
		{"a small window", 1 << 20, wire.DefaultMaxPayload, 256 << 10},
		{"a huge window", 64 << 20, wire.DefaultMaxPayload, 512 << 10},
		{"a small max payload", rpc.DefaultClientWindow, 64 << 10, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerOptions{})
			srv.HandleFunc("flood", func(ctx context.Context, call *rpc.Request) (any, error) {
				_, err := call.Write(make([]byte, total))
				return nil, err
			})
			p := newRawPeer(t, srv, false)
			p.send(wire.Frame{Type: wire.TypeHello, Payload: wire.AppendHello(nil, wire.Hello{Version: 1, MaxPayload: tt.maxPay, InitialWindow: tt.window})})
			p.expectHello()
			p.open(1, wire.FlagFin, 0, "flood", "")
			largest, got := 0, 0
			for got < total {
				f := p.next()
				if f.Type != wire.TypeData {
					t.Fatalf("got %v after %d bytes, want DATA", &f, got)
				}
				largest = max(largest, len(f.Payload))
				got += len(f.Payload)
				p.send(wire.Frame{StreamID: 1, Type: wire.TypeWindow, Payload: wire.AppendWindow(nil, uint32(len(f.Payload)))})
			}
			if diff := cmp.Diff(tt.wantLargestData, largest); diff != "" {
				t.Errorf("largest DATA frame (-want +got):\n%s", diff)
			}
			if st := p.expectStatus(); st != (statusFrame{Stream: 1}) {
				t.Errorf("status %+v", st)
			}
		})
	}
}
