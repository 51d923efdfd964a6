//go:build race

package matchlock_test

// Under the race detector base64 runs some 30 times slower: the big
// transfers move 16 MiB, still twice the heap limit they must stay under.
const big, bigLimit = 16 << 20, 8 << 20
