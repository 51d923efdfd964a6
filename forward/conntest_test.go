package forward_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/net/nettest"
)

// TestDialConn runs the net.Conn conformance suite over Client.Dial.
func TestDialConn(t *testing.T) {
	c, _ := setup(t)
	sock := filepath.Join(t.TempDir(), "conn.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		accepted := make(chan net.Conn, 1)
		go func() {
			a, _ := l.Accept()
			accepted <- a
		}()
		d, err := c.Dial(context.Background(), "unix", sock)
		if err != nil {
			return nil, nil, nil, err
		}
		a := <-accepted
		return d, a, func() { d.Close(); a.Close() }, nil
	})
}
