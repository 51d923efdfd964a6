//go:build !linux

package vix

// systemProcs is not available: only programs started through VIX are
// listed.
func systemProcs() ([]sysProc, bool) { return nil, false }
