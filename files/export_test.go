package files

import "fmt"

// NewPortableService is NewService with the os.Root tree that serves
// where openat2 is missing, so tests cover both.
func NewPortableService(opts Options) (*Service, error) {
	return newService(opts, func(dir string) (tree, error) { return openRootTree(dir) })
}

// TreeKind names the type of the tree that resolves s's paths.
func TreeKind(s *Service) string { return fmt.Sprintf("%T", s.pol.tree) }

// SetBeforeCommit makes every write of s call f after its data is on
// disk and before it is renamed or linked into place.
func SetBeforeCommit(s *Service, f func()) { s.beforeCommit = f }

// Push is the copy of an upload's source to its stream.
var Push = push
