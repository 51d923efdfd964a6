//go:build !unix

package rpc

func fillPlatformInfo(*Info) {}
