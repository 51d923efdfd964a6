//go:build !linux

package files

// isBeneathTree reports true: only linux has the openat2 tree, and the
// default elsewhere is os.Root.
func isBeneathTree(tree) bool { return true }
