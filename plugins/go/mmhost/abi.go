package mmhost

// The canonical ABI by hand: the host's imports through //go:wasmimport,
// the world's `run` export and the `cabi_realloc` the host allocates with.
// Every offset below is the lowered layout of the type in wit/mmhost.wit.

import (
	"runtime/debug"
	"unsafe"
)

//go:wasmimport mmhost:plugin/region@0.1.3 size
func regionSize() uint64

//go:wasmimport mmhost:plugin/region@0.1.3 segments
func regionSegments(ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/region@0.1.3 writable
func regionWritable() uint32

//go:wasmimport mmhost:plugin/region@0.1.3 read
func regionRead(at int64, n uint64, ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/region@0.1.3 write
func regionWrite(at int64, data unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/region@0.1.3 locate
func regionLocate(segment uint32, delta int64, ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/region@0.1.3 find
func regionFind(pattern unsafe.Pointer, n uint32, start, end uint64, limit uint32, ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/region@0.1.3 digest
func regionDigest(algorithm uint32, at int64, n uint64, ret unsafe.Pointer)

//go:wasmimport mmhost:plugin/host@0.1.3 log
func hostLog(level uint32, msg unsafe.Pointer, n uint32)

//go:wasmimport mmhost:plugin/host@0.1.3 progress
func hostProgress(done, total uint64)

//go:wasmimport mmhost:plugin/output@0.1.3 emit
func outputEmit(data unsafe.Pointer, n uint32)

//go:wasmimport mmhost:plugin/config@0.1.3 get
func configGet(ret unsafe.Pointer)

// retArea is the return area of an import: a result's discriminant at 0,
// its payload from 8 (an error's own discriminant at 8, its payload from
// 16). Five words hold the largest, result<_, error> with out-of-range.
type retArea [5]uint64

func (r *retArea) ptr() unsafe.Pointer { return unsafe.Pointer(r) }
func (r *retArea) u8(off uintptr) uint8 {
	return *(*uint8)(unsafe.Add(unsafe.Pointer(r), off))
}
func (r *retArea) u32(off uintptr) uint32 {
	return *(*uint32)(unsafe.Add(unsafe.Pointer(r), off))
}
func (r *retArea) u64(off uintptr) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(r), off))
}

// failed reports whether the result in r is an error, and which, for an
// access of n bytes (segment: the index `locate` was given).
func (r *retArea) failed(n uint64, segment uint32) error {
	if r.u8(0) == 0 {
		return nil
	}
	switch r.u8(8) {
	case 0:
		return &OutOfRangeError{At: int64(r.u64(16)), Len: r.u64(24), Size: r.u64(32)}
	case 1:
		return ErrReadOnly
	case 2:
		return &TooLargeError{Len: n, Limit: r.u64(16)}
	case 3:
		return &NoSuchSegmentError{Segment: segment, Count: r.u32(16)}
	}
	return errUnknown
}

// Memory the host allocates (arguments, the lists imports return) comes
// from cabiRealloc, which the host calls while it lowers a value into the
// plugin. The canonical ABI forbids any import call then ("cannot leave
// component instance"), and Go's allocator may make one (its collector and
// scavenger read the clock), so Go allocates there only with the collector
// off: it is off whenever the plugin's own code is not running (from init
// on, and around every call of an import that returns a list; see
// hostAllocates), and on while `run` runs it.
//
// Each block handed out stays in `live` until `claim` takes it, so that the
// collector cannot free it first. Blocks are []uint64, so 8-aligned, the
// largest alignment of the canonical ABI.
var live = map[uintptr][]uint64{}

// lend, when set, is the buffer the next allocation of at most its size
// goes into (then lent): a read into a caller's buffer allocates nothing.
var lend, lent []uint64

// empty is where allocations of 0 bytes point.
var empty [1]uint64

// The collector's setting while plugin code runs.
const gcPercent = 100

func init() { debug.SetGCPercent(-1) }

// hostAllocates calls an import that returns a list, with the collector off
// while the host allocates it.
func hostAllocates(call func()) {
	prev := debug.SetGCPercent(-1)
	call()
	debug.SetGCPercent(prev)
}

//go:wasmexport cabi_realloc
func cabiRealloc(old, oldSize, align, newSize uint32) uint32 {
	if newSize == 0 {
		return uint32(uintptr(unsafe.Pointer(&empty)))
	}
	if lend != nil && uintptr(len(lend))*8 >= uintptr(newSize) && oldSize == 0 {
		lent, lend = lend, nil
		return uint32(uintptr(unsafe.Pointer(&lent[0])))
	}
	block := make([]uint64, (uintptr(newSize)+7)/8)
	p := uintptr(unsafe.Pointer(&block[0]))
	if oldSize != 0 {
		// A block grown by the host: only ever one it was given here.
		copy(asBytes(block), asBytes(live[uintptr(old)])[:oldSize])
		delete(live, uintptr(old))
	}
	live[p] = block
	return uint32(p)
}

// claim takes the n bytes the host allocated at p out of `live`: the
// plugin's from now on, collected when no longer used.
func claim(p uint32, n uint32) []byte {
	if n == 0 {
		return []byte{}
	}
	if lent != nil && uintptr(unsafe.Pointer(&lent[0])) == uintptr(p) {
		block := lent
		lent = nil
		return asBytes(block)[:n]
	}
	block, ok := live[uintptr(p)]
	if !ok {
		panic("mmhost: the host returned memory it did not allocate")
	}
	delete(live, uintptr(p))
	return asBytes(block)[:n]
}

func asBytes(words []uint64) []byte {
	if len(words) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
}

// bytesPtr is the address of b's first byte (nil for an empty b).
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// The plugin's run function, set by Export.
var runFunc func(args []string) (string, error)

// Export makes run the plugin's `run`: it gets the arguments the user gave
// after `--` (a job step's `args`); its string is the `ok` text, printed on
// stdout after any emitted bytes, and its error the `err` text, printed on
// stderr with exit code 1. Call it from an init function:
//
//	func init() { mmhost.Export(run) }
func Export(run func(args []string) (string, error)) { runFunc = run }

// runRet is run's return area: discriminant, string pointer and length.
var runRet [3]uint32

// runText keeps the returned text alive until the host has copied it.
var runText []byte

// claimArgs takes the list<string> the host passed at args.
func claimArgs(args, nargs uint32) []string {
	list := claim(args, nargs*8)
	strs := make([]string, nargs)
	for i := range strs {
		p := *(*uint32)(unsafe.Pointer(&list[8*i]))
		n := *(*uint32)(unsafe.Pointer(&list[8*i+4]))
		strs[i] = string(claim(p, n))
	}
	return strs
}

//go:wasmexport run
func exportRun(args, nargs uint32) uint32 {
	strs := claimArgs(args, nargs)
	if runFunc == nil {
		return setRunResult(1, "mmhost: no run function: call mmhost.Export(run) in an init function")
	}
	debug.SetGCPercent(gcPercent)
	text, err := runFunc(strs)
	debug.SetGCPercent(-1)
	if err != nil {
		return setRunResult(1, err.Error())
	}
	return setRunResult(0, text)
}

func setRunResult(disc uint32, text string) uint32 {
	runText = []byte(text)
	runRet[0] = disc
	runRet[1] = uint32(uintptr(bytesPtr(runText)))
	runRet[2] = uint32(len(runText))
	return uint32(uintptr(unsafe.Pointer(&runRet)))
}

//go:wasmexport cabi_post_run
func postRun(uint32) { runText = nil }
