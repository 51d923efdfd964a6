package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/guestrpc/guestrpc/wire"
)

// ErrToken is wrapped by ReadTokenFile's errors about the token itself.
var ErrToken = errors.New("transport: bad token file")

// ReadTokenFile reads the token a TCP peer presents in HELLO from path:
// the file's contents less surrounding white space (a trailing newline),
// 1 to wire.MaxTokenLen bytes. A token file any user may read (or write)
// is refused: on a shared machine it would let every local user in. A
// token never goes on a command line, where ps shows it.
func ReadTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transport: token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("transport: token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%v)", ErrToken, path, fi.Mode())
	}
	if fi.Mode().Perm()&0o006 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v: any user can read or change it (chmod o-rw)", ErrToken, path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 4*wire.MaxTokenLen))
	if err != nil {
		return nil, fmt.Errorf("transport: token file %s: %w", path, err)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 || len(tok) > wire.MaxTokenLen {
		return nil, fmt.Errorf("%w: %s holds a token of %d bytes, want 1 to %d", ErrToken, path, len(tok), wire.MaxTokenLen)
	}
	return tok, nil
}
