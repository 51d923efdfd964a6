//go:build !race

package matchlock_test

const big, bigLimit = 64 << 20, 24 << 20
