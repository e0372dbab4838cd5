package mmhost

// The `chunked` interface of the `parallel` world: every plugin built with
// this package exports it, and declines to be split unless it called
// ExportParallel (plan returns none: mmhost then calls run).

import (
	"runtime/debug"
	"unsafe"
)

// Chunk is one chunk of the region in a parallel run.
type Chunk struct {
	Index, Count uint32 // its position among the chunks, and their number
	Start, End   uint64 // its global range [Start, End)
	Halo         uint64 // how far beyond it the chunk may read
}

// Parallel is the work of a plugin that can run in chunks on several
// threads (mmhost run -j N): Plan says whether the run splits for these
// arguments and how far beyond its bounds a chunk reads (its halo);
// RunChunk does one chunk's work (writes only inside [Start, End)) and
// returns a partial result; Reduce combines the partial results, given in
// chunk order, into what run would have returned. The result must not
// depend on how the region was split.
type Parallel struct {
	Plan     func(args []string) (halo uint64, split bool, err error)
	RunChunk func(args []string, c Chunk) ([]byte, error)
	Reduce   func(args []string, partials [][]byte) (string, error)
}

var parallel *Parallel

// ExportParallel lets mmhost run the plugin in chunks (besides the run of
// Export, which it still calls for one job, fuel-metered runs and small
// regions). Call it from an init function.
func ExportParallel(p Parallel) { parallel = &p }

// planRet: result<option<u64>, string>: discriminant at 0; the option's at
// 8 and its value at 16, or the error text's pointer at 8, length at 12.
var planRet [3]uint64

//go:wasmexport mmhost:plugin/chunked@0.1.3#plan
func exportPlan(args, nargs uint32) uint32 {
	strs := claimArgs(args, nargs)
	planRet = [3]uint64{}
	p := uint32(uintptr(unsafe.Pointer(&planRet)))
	if parallel == nil {
		return p // ok(none): run serially
	}
	debug.SetGCPercent(gcPercent)
	halo, split, err := parallel.Plan(strs)
	debug.SetGCPercent(-1)
	if err != nil {
		runText = []byte(err.Error())
		planRet[0] = 1
		planRet[1] = uint64(uint32(uintptr(bytesPtr(runText)))) | uint64(len(runText))<<32
		return p
	}
	if split {
		planRet[1] = 1
		planRet[2] = halo
	}
	return p
}

//go:wasmexport mmhost:plugin/chunked@0.1.3#run-chunk
func exportRunChunk(args, nargs, index, count uint32, start, end, halo uint64) uint32 {
	strs := claimArgs(args, nargs)
	if parallel == nil {
		return setRunResult(1, "mmhost: run-chunk without mmhost.ExportParallel")
	}
	debug.SetGCPercent(gcPercent)
	partial, err := parallel.RunChunk(strs, Chunk{index, count, start, end, halo})
	debug.SetGCPercent(-1)
	if err != nil {
		return setRunResult(1, err.Error())
	}
	return setRunResult(0, string(partial))
}

//go:wasmexport mmhost:plugin/chunked@0.1.3#reduce
func exportReduce(args, nargs, partials, npartials uint32) uint32 {
	strs := claimArgs(args, nargs)
	list := claim(partials, npartials*8)
	parts := make([][]byte, npartials)
	for i := range parts {
		p := *(*uint32)(unsafe.Pointer(&list[8*i]))
		n := *(*uint32)(unsafe.Pointer(&list[8*i+4]))
		parts[i] = claim(p, n)
	}
	if parallel == nil {
		return setRunResult(1, "mmhost: reduce without mmhost.ExportParallel")
	}
	debug.SetGCPercent(gcPercent)
	text, err := parallel.Reduce(strs, parts)
	debug.SetGCPercent(-1)
	if err != nil {
		return setRunResult(1, err.Error())
	}
	return setRunResult(0, text)
}
