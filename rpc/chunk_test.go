package rpc

import "testing"

// TestChunkSizes: a received DATA payload is kept in the smallest chunk
// class that holds it, so what a frame pins (and is charged to the
// memory budget) is at most four times its size, not a large chunk.
func TestChunkSizes(t *testing.T) {
	tests := []struct {
		n, wantCap int
	}{
		{1, smallChunk},
		{smallChunk, smallChunk},
		{smallChunk + 1, middleChunk},
		{32 << 10, middleChunk},
		{middleChunk, middleChunk},
		{middleChunk + 1, frameChunk},
		{frameChunk, frameChunk},
		{frameChunk + 1, largeChunk},
		{largeChunk, largeChunk},
		{largeChunk + 1, largeChunk + 1},
	}
	var cp chunkPools
	for _, tt := range tests {
		for range 2 { // fresh, then from the pool
			b := cp.get(tt.n)
			if len(b) != tt.n || cap(b) != tt.wantCap {
				t.Errorf("get(%d): len %d cap %d, want len %d cap %d", tt.n, len(b), cap(b), tt.n, tt.wantCap)
			}
			cp.put(b)
		}
	}
}
