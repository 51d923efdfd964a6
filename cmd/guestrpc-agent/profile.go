//go:build !pprof

package main

import "log/slog"

// startProfiles does nothing: build with -tags pprof to profile the
// agent (see profile_pprof.go).
func startProfiles(*slog.Logger) (stop func()) { return func() {} }
