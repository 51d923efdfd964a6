package files

// isBeneathTree reports whether tr is the openat2 tree, which linux
// must give by default.
func isBeneathTree(tr tree) bool {
	_, ok := tr.(*beneathTree)
	return ok
}
