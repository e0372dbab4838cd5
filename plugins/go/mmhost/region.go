package mmhost

import (
	"iter"
	"unsafe"
)

// MaxRead is the most bytes one Read may ask for (the host's limit).
const MaxRead = 64 << 20

// DefaultChunk is the chunk size Chunks and TransformChunks use unless told
// otherwise: 1 MiB.
const DefaultChunk = 1 << 20

// Size is the region's size in bytes: all the input files together.
func Size() uint64 { return regionSize() }

// Writable reports whether writes are allowed (--in-place or --output).
func Writable() bool { return regionWritable() != 0 }

// Segment is one input file's place in the region.
type Segment struct {
	Name  string // the path as the user gave it
	Start uint64 // global offset of its first byte
	Len   uint64 // its length in bytes
}

// Segments lists the input files in region order.
func Segments() []Segment {
	var ret [2]uint32
	hostAllocates(func() { regionSegments(unsafe.Pointer(&ret)) })
	list := claim(ret[0], ret[1]*24)
	segs := make([]Segment, ret[1])
	for i := range segs {
		rec := list[24*i:]
		p := *(*uint32)(unsafe.Pointer(&rec[0]))
		n := *(*uint32)(unsafe.Pointer(&rec[4]))
		segs[i] = Segment{
			Name:  string(claim(p, n)),
			Start: *(*uint64)(unsafe.Pointer(&rec[8])),
			Len:   *(*uint64)(unsafe.Pointer(&rec[16])),
		}
	}
	return segs
}

// Read returns the n bytes at global offset at (negative: from the end, -1
// is the last byte). There are no short reads: the whole range must lie in
// the region, else *OutOfRangeError; n may be at most MaxRead.
func Read(at int64, n uint64) ([]byte, error) {
	var r retArea
	hostAllocates(func() { regionRead(at, n, r.ptr()) })
	if err := r.failed(n, 0); err != nil {
		return nil, err
	}
	return claim(r.u32(8), r.u32(12)), nil
}

// readInto reads n bytes at `at` into buf (of at least n bytes): the host
// allocates nothing else, so the collector may stay on.
func readInto(at int64, n uint64, buf []uint64) ([]byte, error) {
	var r retArea
	lend = buf
	regionRead(at, n, r.ptr())
	lend = nil
	if err := r.failed(n, 0); err != nil {
		return nil, err
	}
	return claim(r.u32(8), r.u32(12)), nil
}

// Write writes data at global offset at (same rules as Read). Writes never
// change a size; they need --in-place or --output, else ErrReadOnly. A write
// that fails changes nothing.
func Write(at int64, data []byte) error {
	var r retArea
	regionWrite(at, bytesPtr(data), uint32(len(data)), r.ptr())
	return r.failed(uint64(len(data)), 0)
}

// Locate is the global offset of byte delta of segment (an index into
// Segments); a negative delta reaches into the files before it.
func Locate(segment uint32, delta int64) (uint64, error) {
	var r retArea
	regionLocate(segment, delta, r.ptr())
	if err := r.failed(0, segment); err != nil {
		return 0, err
	}
	return r.u64(8), nil
}

// Find returns the global offsets of up to limit non-overlapping
// occurrences of pattern wholly inside [start, end), leftmost first, as
// Python's bytes.count counts them. Fewer than limit results mean there are
// no more. The host searches its mapping (SIMD memmem): nothing is copied.
func Find(pattern []byte, start, end uint64, limit uint32) ([]uint64, error) {
	var r retArea
	hostAllocates(func() {
		regionFind(bytesPtr(pattern), uint32(len(pattern)), start, end, limit, r.ptr())
	})
	if err := r.failed(end-start, 0); err != nil {
		return nil, err
	}
	return asUint64s(claim(r.u32(8), r.u32(12)*8)), nil
}

func asUint64s(b []byte) []uint64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

// SHA256 is the SHA-256 digest of the n bytes at at (same rules as Read,
// but n has no limit), computed by the host over its mapping.
func SHA256(at int64, n uint64) ([]byte, error) {
	var r retArea
	hostAllocates(func() { regionDigest(0, at, n, r.ptr()) })
	if err := r.failed(n, 0); err != nil {
		return nil, err
	}
	return claim(r.u32(8), r.u32(12)), nil
}

// Region is the region as an io.ReaderAt and io.WriterAt, for the standard
// library: io.NewSectionReader(mmhost.Region, 0, int64(mmhost.Size())) is
// an io.Reader over the whole region.
var Region region

type region struct{}

// ReadAt reads len(p) bytes at off. Unlike a file, a read that does not
// fit in the region reads nothing and returns *OutOfRangeError, except that
// a read from off to past the end reads what there is and returns io.EOF.
func (region) ReadAt(p []byte, off int64) (int, error) {
	size := Size()
	if off < 0 {
		return 0, &OutOfRangeError{At: off, Len: uint64(len(p)), Size: size}
	}
	done := 0
	for done < len(p) && uint64(off)+uint64(done) < size {
		n := min(uint64(len(p)-done), size-uint64(off)-uint64(done), MaxRead)
		b, err := Read(off+int64(done), n)
		if err != nil {
			return done, err
		}
		done += copy(p[done:], b)
	}
	if done < len(p) {
		return done, eof
	}
	return done, nil
}

// WriteAt writes p at off: all of it, or nothing and an error.
func (region) WriteAt(p []byte, off int64) (int, error) {
	if err := Write(off, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Chunks reads the global range [start, end) a chunk at a time, for a
// range loop; check Err after it, as with bufio.Scanner:
//
//	c := mmhost.NewChunks(0, mmhost.Size())
//	for off, b := range c.All() { ... }
//	if err := c.Err(); err != nil { return "", err }
//
// The bytes of a chunk are valid until the next one is read (the buffer is
// reused); copy what you keep.
type Chunks struct {
	start, end uint64
	size       uint64
	overlap    uint64
	progress   bool
	err        error
}

// NewChunks reads [start, end) in chunks of DefaultChunk bytes, reporting
// progress to the host.
func NewChunks(start, end uint64) *Chunks {
	return &Chunks{start: start, end: max(start, end), size: DefaultChunk, progress: true}
}

// Size sets the chunk size (0: DefaultChunk; at most MaxRead).
func (c *Chunks) Size(n int) *Chunks {
	c.size = DefaultChunk
	if n > 0 {
		c.size = min(uint64(n), MaxRead)
	}
	return c
}

// Overlap makes each chunk after the first start with the last k bytes of
// the one before, so that a pattern of k+1 bytes lies whole in some chunk.
func (c *Chunks) Overlap(k int) *Chunks {
	c.overlap = uint64(max(k, 0))
	return c
}

// Quiet stops the chunks from reporting progress.
func (c *Chunks) Quiet() *Chunks {
	c.progress = false
	return c
}

// All yields each chunk's global offset and bytes.
func (c *Chunks) All() iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		progress := NewProgress(c.end - c.start)
		buf := make([]uint64, (c.size+c.overlap+7)/8)
		for pos := c.start; pos < c.end; {
			next := pos + min(c.size, c.end-pos)
			from := pos
			if pos != c.start {
				from = pos - min(c.overlap, pos-c.start)
			}
			b, err := readInto(int64(from), next-from, buf)
			if err != nil {
				c.err = err
				return
			}
			pos = next
			if c.progress {
				progress.Set(pos - c.start)
			}
			if !yield(from, b) {
				return
			}
		}
	}
}

// Err is the error that ended the chunks early, if any.
func (c *Chunks) Err() error { return c.err }

// TransformChunks rewrites the whole region in place a chunk at a time:
// reads each chunk of chunkSize bytes (0: DefaultChunk), lets f change it
// (given its global offset) and writes it back. Fails with ErrReadOnly
// before reading anything if the run does not allow writes.
func TransformChunks(chunkSize int, f func(offset uint64, b []byte)) error {
	return TransformRange(0, Size(), chunkSize, f)
}

// TransformRange is TransformChunks over the global range [start, end)
// only (a chunk of a parallel run).
func TransformRange(start, end uint64, chunkSize int, f func(offset uint64, b []byte)) error {
	if !Writable() {
		return ErrReadOnly
	}
	c := NewChunks(start, end).Size(chunkSize)
	for off, b := range c.All() {
		f(off, b)
		if err := Write(int64(off), b); err != nil {
			return err
		}
	}
	return c.Err()
}
