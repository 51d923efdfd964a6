package prokshy_test

import (
	"context"
	"net"

	"github.com/guestrpc/guestrpc/channel"
	"github.com/guestrpc/guestrpc/rpc"
)

func testutilClient(c net.Conn) (*rpc.Client, error) {
	return rpc.NewClient(context.Background(), channel.NewStream(c, channel.StreamOptions{}), rpc.ClientOptions{})
}
