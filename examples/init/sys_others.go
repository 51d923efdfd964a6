//go:build !linux

package main

import "errors"

var errLinuxOnly = errors.New("init: Linux only")

func finitModule(string) error { return errLinuxOnly }

func loopbackUp() error { return errLinuxOnly }

func mountAll() error { return errLinuxOnly }

func drainConsole() {}
