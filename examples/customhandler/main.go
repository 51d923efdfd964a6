// Command customhandler embeds the guestrpc agent in a program of its own
// and adds a method with RegisterHandler: "kv.get" and "kv.put" on an
// in-memory store. Run it, then from another terminal:
//
//	go run ./cmd/guestrpc --connect unix:/tmp/customhandler.sock info
//
// The "methods" list shows kv.get and kv.put beside the built-ins.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/guestrpc/guestrpc/agent"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/transport"
)

// store is the program's own state, served through the agent.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

type putArgs struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type getArgs struct {
	Key string `json:"key"`
}

func (s *store) register(srv *rpc.Server) {
	srv.RegisterHandler("kv.put", rpc.Unary(func(ctx context.Context, a putArgs) (struct{}, error) {
		if a.Key == "" {
			return struct{}{}, rpc.Errorf(rpc.InvalidArgument, "kv.put: empty key")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.m[a.Key] = a.Value
		return struct{}{}, nil
	}))
	srv.RegisterHandler("kv.get", rpc.Unary(func(ctx context.Context, a getArgs) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		v, ok := s.m[a.Key]
		if !ok {
			return "", rpc.Errorf(rpc.NotFound, "kv.get: no key %q", a.Key)
		}
		return v, nil
	}))
}

func main() {
	sock := flag.String("listen", "unix:/tmp/customhandler.sock", "where to serve")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	a, err := agent.New(agent.Config{Logger: log, Name: "customhandler"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "customhandler:", err)
		os.Exit(1)
	}
	defer a.Close()
	(&store{m: map[string]string{}}).register(a.Server)

	l, err := transport.Listen(ctx, *sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "customhandler:", err)
		os.Exit(1)
	}
	if err := a.Serve(ctx, l); err != nil {
		fmt.Fprintln(os.Stderr, "customhandler:", err)
		os.Exit(1)
	}
}
