package hgfs_test

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func atime(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(fi.Sys().(*syscall.Stat_t).Atim.Unix())
}
