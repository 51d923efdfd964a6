package matchlock_test

import (
	osexec "os/exec"
)

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func exec(cmd string) ([]byte, error) {
	return osexec.Command("sh", "-c", cmd).Output()
}
