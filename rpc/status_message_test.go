package rpc

import (
	"errors"
	"fmt"
	"testing"
)

func TestStatusMessageDoesNotRepeatTheCode(t *testing.T) {
	inner := Errorf(NotFound, "stat %q: no such file", "/x")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{inner, `stat "/x": no such file`},
		{fmt.Errorf("files: %w", inner), `files: stat "/x": no such file`},
		{errors.New("plain"), "plain"},
	} {
		if got := statusMessage(tc.err); got != tc.want {
			t.Errorf("statusMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
