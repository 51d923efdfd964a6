//go:build !linux

package files

// newTree opens root as an os.Root, which resolves every component by
// descriptor and refuses escapes.
func newTree(root string) (tree, error) {
	rt, err := openRootTree(root)
	if err != nil {
		return nil, err
	}
	return rt, nil
}
