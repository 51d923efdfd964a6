package forward_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/forward"
	"github.com/guestrpc/guestrpc/rpc"
)

// The host fetches a page from a web server that listens on the guest's
// loopback only. Here guest and host are one process joined by a pipe;
// a real host reaches the agent with transport.Dial.
func Example() {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from the guest")
	}))
	defer web.Close()

	// The guest: an rpc.Server with net.dial.
	svc, err := forward.NewService(forward.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	guestEnd, hostEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done; svc.Close() }()

	// The host: an HTTP client whose connections are dialed in the guest.
	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	tr := &http.Transport{DialContext: forward.NewClient(c).Dial}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(web.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output:
	// 200 OK hello from the guest
}
