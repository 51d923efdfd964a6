package rpc

import (
	"context"
	"os"
	"runtime"
	"time"
)

// AgentVersion is the version sys.info reports.
const AgentVersion = "0.1.0"

// Info is the result of sys.info.
type Info struct {
	AgentVersion string        `json:"agent_version"`
	OS           string        `json:"os"`
	Arch         string        `json:"arch"`
	Kernel       string        `json:"kernel,omitempty"`
	Hostname     string        `json:"hostname,omitempty"`
	Uptime       time.Duration `json:"uptime_ns,omitempty"`         // of the system, when known
	AgentUptime  time.Duration `json:"agent_uptime_ns"`             // since NewServer
	CPUTime      time.Duration `json:"agent_cpu_time_ns,omitempty"` // user+system CPU of the agent process
	PID          int           `json:"pid"`
	Goroutines   int           `json:"goroutines"`
	FDs          int           `json:"fds,omitempty"` // open file descriptors, where /proc/self/fd or /dev/fd lists them
	Methods      []string      `json:"methods"`
}

func (s *Server) registerBuiltins() {
	s.RegisterHandler("sys.ping", Inline(HandlerFunc(func(context.Context, *Request) (any, error) { return nil, nil })))
	s.RegisterHandler("sys.info", Inline(HandlerFunc(func(ctx context.Context, call *Request) (any, error) {
		info := &Info{
			AgentVersion: AgentVersion,
			OS:           runtime.GOOS,
			Arch:         runtime.GOARCH,
			AgentUptime:  time.Since(s.started),
			PID:          os.Getpid(),
			Goroutines:   runtime.NumGoroutine(),
			Methods:      s.methodsFor(call.sc.policy),
		}
		info.Hostname, _ = os.Hostname()
		fillPlatformInfo(info)
		return info, nil
	})))
}
