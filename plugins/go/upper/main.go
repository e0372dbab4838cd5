// upper: ASCII-uppercases the whole region in place (--in-place or
// --output), as plugins/upper does.
package main

import (
	"unsafe"

	"mmhost/mmhost"
)

func init() {
	mmhost.Export(run)
	// In chunks on several threads (mmhost run -j N): a chunk needs no
	// bytes beyond its bounds, and there is nothing to combine.
	mmhost.ExportParallel(mmhost.Parallel{
		Plan: func([]string) (uint64, bool, error) { return 0, true, nil },
		RunChunk: func(_ []string, c mmhost.Chunk) ([]byte, error) {
			return nil, mmhost.TransformRange(c.Start, c.End, mmhost.DefaultChunk, transform)
		},
		Reduce: func([]string, [][]byte) (string, error) { return "", nil },
	})
}

func main() {}

func run(args []string) (string, error) {
	return "", mmhost.TransformChunks(mmhost.DefaultChunk, transform)
}

func transform(_ uint64, b []byte) { upper(b) }

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// upper uppercases b eight bytes at a time in a uint64, without branches
// (Go has no wasm SIMD): a byte is a lowercase letter when its low seven
// bits plus (0x80-'a') carry into the high bit, plus (0x80-'z'-1) do not,
// and its own high bit is clear; that high bit, shifted to 0x20, is the
// case bit to clear. No sum carries into the next byte.
func upper(b []byte) {
	words := len(b) / 8
	if words > 0 && uintptr(unsafe.Pointer(&b[0]))%8 == 0 {
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), words)
		for i, x := range w {
			low := x &^ high
			lower := (low + (0x80-'a')*ones) &^ (low + (0x80-'z'-1)*ones) &^ x & high
			w[i] = x ^ lower>>2
		}
	} else {
		words = 0
	}
	for i := words * 8; i < len(b); i++ {
		if c := b[i]; c-'a' < 26 {
			b[i] = c - 32
		}
	}
}
