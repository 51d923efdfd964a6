package files_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// The guest serves a Service confined to a directory; the host uploads a
// file, lists the directory and downloads the file again.
func ExampleClient_Upload() {
	// Guest side: the Service refuses every path outside Root.
	root, err := os.MkdirTemp("", "files-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)
	svc, err := files.NewService(files.Options{Root: root})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	guestEnd, hostEnd := net.Pipe() // a real guest listens on vsock or virtio
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeChannel(ctx, channel.NewStream(guestEnd, channel.StreamOptions{}))
	}()
	defer func() { cancel(); <-done }()

	// Host side.
	c, err := rpc.NewClient(ctx, channel.NewStream(hostEnd, channel.StreamOptions{}), rpc.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fc := files.NewClient(c)
	wr, err := fc.Upload(ctx, strings.NewReader("hello, guest\n"), filepath.Join(root, "etc/motd"), files.WriteOptions{Parents: true, Checksum: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("uploaded", wr.Size, "bytes")
	if _, err := fc.Upload(ctx, strings.NewReader("x"), "/etc/passwd", files.WriteOptions{}); err != nil {
		fmt.Println(rpc.CodeOf(err))
	}
	entries, err := fc.List(ctx, filepath.Join(root, "etc"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Size)
	}
	if _, err := fc.Download(ctx, filepath.Join(root, "etc/motd"), os.Stdout, files.ReadOptions{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// uploaded 13 bytes
	// PermissionDenied
	// motd 13
	// hello, guest
}
