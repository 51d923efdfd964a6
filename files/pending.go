package files

import (
	"errors"
	"io/fs"
	"os"
)

// pending is the new contents of a file being written: an unnamed file
// in the target's directory where the system has them (O_TMPFILE, so
// that a crash leaves nothing behind), else a hidden temporary name.
type pending struct {
	d      dirHandle
	f      *os.File
	name   string // the temporary name; "" while unnamed
	closed bool
}

// unnamedCreator is a directory that can hold unnamed files.
type unnamedCreator interface {
	// CreateUnnamed makes a file with no name in the directory, or fails
	// with errors.ErrUnsupported.
	CreateUnnamed(perm fs.FileMode) (*os.File, error)
	// LinkUnnamed gives f, made by CreateUnnamed, the name name.
	LinkUnnamed(f *os.File, name string) error
}

func newPending(d dirHandle, base string) (*pending, error) {
	if uc, ok := d.(unnamedCreator); ok {
		f, err := uc.CreateUnnamed(0o600)
		if err == nil {
			return &pending{d: d, f: f}, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return nil, err
		}
	}
	p := &pending{d: d}
	var err error
	for range 100 {
		p.name = tempName(base)
		if p.f, err = d.Create(p.name, 0o600); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// tempName is a hidden name beside base.
func tempName(base string) string { return "." + base + ".guestrpc-" + randomName() + ".tmp" }

// commit puts the contents in place as base: replacing it, or with
// exclusive failing when base exists (fs.ErrExist).
func (p *pending) commit(base string, exclusive bool) error {
	if p.name == "" {
		uc := p.d.(unnamedCreator)
		if exclusive {
			if err := uc.LinkUnnamed(p.f, base); err != nil {
				return err
			}
			return p.close()
		}
		p.name = tempName(base)
		if err := uc.LinkUnnamed(p.f, p.name); err != nil {
			p.name = ""
			return err
		}
	}
	if err := p.close(); err != nil {
		return err
	}
	if exclusive {
		if err := p.d.Link(p.name, base); err != nil {
			return err
		}
		err := p.d.Remove(p.name)
		p.name = ""
		return err
	}
	if err := p.d.Rename(p.name, base); err != nil {
		return err
	}
	p.name = ""
	return nil
}

func (p *pending) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.f.Close()
}

// discard drops contents that were not committed.
func (p *pending) discard() error {
	p.close()
	if p.name == "" {
		return nil
	}
	err := p.d.Remove(p.name)
	p.name = ""
	return err
}
