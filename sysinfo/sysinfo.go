package sysinfo

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/guestrpc/guestrpc/rpc"
)

const methodInfo = "sys.info"

// Info is the result of sys.info.
type Info struct {
	Version     string        `json:"agent_version"` // Options.Version
	OS          string        `json:"os"`
	Arch        string        `json:"arch"`
	Kernel      string        `json:"kernel,omitempty"`
	Hostname    string        `json:"hostname,omitempty"`
	Uptime      time.Duration `json:"uptime_ns,omitempty"`         // of the system, when known
	AgentUptime time.Duration `json:"agent_uptime_ns"`             // since NewService
	CPUTime     time.Duration `json:"agent_cpu_time_ns,omitempty"` // user+system CPU of the agent process
	PID         int           `json:"pid"`
	Goroutines  int           `json:"goroutines"`
	FDs         int           `json:"fds,omitempty"` // open file descriptors, where /proc/self/fd or /dev/fd lists them
	Methods     []string      `json:"methods"`       // those the caller may call, sorted
}

// Options configure a Service. The zero value is ready to use.
type Options struct {
	// Version is reported as the agent's version (default "unknown").
	Version string
}

// Service serves sys.info.
type Service struct {
	version string
	started time.Time
}

// NewService returns a Service; AgentUptime counts from now.
func NewService(opts Options) (*Service, error) {
	if opts.Version == "" {
		opts.Version = "unknown"
	}
	return &Service{version: opts.Version, started: time.Now()}, nil
}

// Register adds sys.info to srv. The method lists srv's methods that the
// caller may call.
func (s *Service) Register(srv *rpc.Server) {
	// Inline: it reads a few counters and never waits for the peer.
	srv.RegisterHandler(methodInfo, rpc.Inline(rpc.HandlerFunc(func(ctx context.Context, req *rpc.Request) (any, error) {
		return s.info(srv, req), nil
	})))
}

// Close releases nothing; it is here so that every service has one.
func (s *Service) Close() error { return nil }

func (s *Service) info(srv *rpc.Server, req *rpc.Request) *Info {
	info := &Info{
		Version:     s.version,
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		AgentUptime: time.Since(s.started),
		PID:         os.Getpid(),
		Goroutines:  runtime.NumGoroutine(),
		Methods:     []string{},
	}
	for _, m := range srv.Methods() {
		if req.Allowed(m) {
			info.Methods = append(info.Methods, m)
		}
	}
	info.Hostname, _ = os.Hostname()
	fillPlatformInfo(info)
	return info
}

// Client calls sys.info.
type Client struct{ c *rpc.Client }

// NewClient returns a Client that calls through c.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Info returns the agent's description of itself and the guest.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var info Info
	if err := c.c.Call(ctx, methodInfo, nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}
