//go:build !unix

package sysinfo

func fillPlatformInfo(*Info) {}
