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

// The guest serves a Service confined to a directory (a real guest runs
// the agent, which registers it); the host makes directories, uploads a
// file, renames and removes, lists the directory and downloads the file
// again.
func Example() {
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
	// The metadata methods mirror package os.
	if err := fc.MkdirAll(ctx, filepath.Join(root, "etc/app"), 0o755); err != nil {
		fmt.Println(err)
		return
	}
	wr, err := fc.Upload(ctx, strings.NewReader("hello, guest\n"), filepath.Join(root, "etc/motd"), files.WriteOptions{Checksum: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("uploaded", wr.Size, "bytes")
	if _, err := fc.Upload(ctx, strings.NewReader("x"), "/etc/passwd", files.WriteOptions{}); err != nil {
		fmt.Println(rpc.CodeOf(err))
	}
	tmp, err := fc.CreateTemp(ctx, filepath.Join(root, "etc"), "conf-*.tmp")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := fc.Rename(ctx, tmp, filepath.Join(root, "etc/app/conf")); err != nil {
		fmt.Println(err)
		return
	}
	if err := fc.Remove(ctx, filepath.Join(root, "etc/app")); err != nil {
		fmt.Println(rpc.CodeOf(err)) // not empty: RemoveAll removes it
	}
	if err := fc.RemoveAll(ctx, filepath.Join(root, "etc/app")); err != nil {
		fmt.Println(err)
		return
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
	// FailedPrecondition
	// motd 13
	// hello, guest
}
