package vsockexec_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/guestrpc/guestrpc/compat/vsockexec"
)

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{"\x00\x00", "\x05\x00hello", "\x01\x08", "\xff\xff", "\x01", "\x00\x08" + string(make([]byte, 2048))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			cmd, err := vsockexec.ReadCommand(r)
			if errors.Is(err, vsockexec.ErrTooLong) {
				continue
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unclassified error %v", err)
				}
				return
			}
			if len(cmd) > vsockexec.MaxCommand {
				t.Fatalf("a %d-byte command", len(cmd))
			}
			again, err := vsockexec.AppendCommand(nil, string(cmd))
			if err != nil || !bytes.Equal(again[2:], cmd) {
				t.Fatalf("does not re-encode: %v", err)
			}
		}
	})
}
