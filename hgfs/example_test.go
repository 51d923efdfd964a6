package hgfs_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/rpc"
)

// The guest serves HGFS as the rpc method hgfs.packet, confined by the
// same files.Policy as file.* (the agent registers it so); a host that
// speaks HGFS sends packets with a Client. Here the host opens a file
// and reads it with two legacy-header packets (layouts from
// open-vm-tools' hgfsProto.h).
func ExampleClient_Do() {
	dir, err := os.MkdirTemp("", "hgfs-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "motd")
	if err := os.WriteFile(path, []byte("hello over HGFS"), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	// Guest side.
	pol, err := files.NewPolicy(files.Options{Root: dir, ReadOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pol.Close()
	svc, err := hgfs.NewService(hgfs.Options{Files: pol})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := rpc.NewServer(rpc.ServerOptions{})
	svc.Register(srv)
	guestEnd, hostEnd := net.Pipe()
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
	hc := hgfs.NewClient(c)
	le := binary.LittleEndian

	// Open: HgfsRequest{id, op}, mode, flags, permissions, HgfsFileName
	// (length, the path's components separated by NUL, a NUL).
	name := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "\x00")
	open := le.AppendUint32(le.AppendUint32(nil, 1), uint32(hgfs.OpOpen))
	open = le.AppendUint32(open, hgfs.OpenModeReadOnly)
	open = le.AppendUint32(open, hgfs.OpenFlagOpen)
	open = append(open, 6)
	open = le.AppendUint32(open, uint32(len(name)))
	open = append(append(open, name...), 0)
	reply, err := hc.Do(ctx, open)
	if err != nil {
		fmt.Println(err)
		return
	}
	// HgfsReply{id, status}, then the handle.
	fmt.Println("open:", hgfs.Status(le.Uint32(reply[4:])) == hgfs.StatusSuccess)
	handle := le.Uint32(reply[8:])

	// ReadV3: handle, offset, size, reserved.
	read := le.AppendUint32(le.AppendUint32(nil, 2), uint32(hgfs.OpReadV3))
	read = le.AppendUint32(read, handle)
	read = le.AppendUint64(read, 0)
	read = le.AppendUint32(read, 100)
	read = le.AppendUint64(read, 0)
	if reply, err = hc.Do(ctx, read); err != nil {
		fmt.Println(err)
		return
	}
	// HgfsReply, then the size read, a reserved word, the bytes.
	n := le.Uint32(reply[8:])
	fmt.Printf("read %d bytes: %q\n", n, reply[20:20+n])

	// A name outside the policy's root is refused.
	outside := le.AppendUint32(le.AppendUint32(nil, 3), uint32(hgfs.OpOpen))
	outside = le.AppendUint32(le.AppendUint32(outside, hgfs.OpenModeReadOnly), hgfs.OpenFlagOpen)
	outside = le.AppendUint32(append(outside, 6), uint32(len("etc\x00passwd")))
	outside = append(append(outside, "etc\x00passwd"...), 0)
	if reply, err = hc.Do(ctx, outside); err == nil {
		fmt.Println("open /etc/passwd:", hgfs.Status(le.Uint32(reply[4:])) == hgfs.StatusAccessDenied)
	}
	// Output:
	// open: true
	// read 15 bytes: "hello over HGFS"
	// open /etc/passwd: true
}
