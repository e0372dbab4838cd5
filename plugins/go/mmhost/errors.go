package mmhost

import (
	"errors"
	"strconv"
)

// OutOfRangeError: the access [At, At+Len) (after resolving a negative At)
// is not inside a region of Size bytes.
type OutOfRangeError struct {
	At   int64
	Len  uint64
	Size uint64
}

func (e *OutOfRangeError) Error() string {
	return "access of " + u64(e.Len) + " bytes at offset " + strconv.FormatInt(e.At, 10) +
		" is out of range for a region of " + u64(e.Size) + " bytes"
}

// ErrReadOnly: the run does not allow writes (the user gave neither
// --in-place nor --output).
var ErrReadOnly = errors.New("region is read-only (run with --in-place or --output)")

// TooLargeError: one read asked for more than the host's limit (64 MiB):
// read in chunks.
type TooLargeError struct {
	Len   uint64
	Limit uint64
}

func (e *TooLargeError) Error() string {
	return "read of " + u64(e.Len) + " bytes exceeds the host's limit of " + u64(e.Limit) +
		" bytes per read (read in chunks)"
}

// NoSuchSegmentError: Locate was given a segment index the region does not
// have.
type NoSuchSegmentError struct {
	Segment uint32
	Count   uint32
}

func (e *NoSuchSegmentError) Error() string {
	s := "s"
	if e.Count == 1 {
		s = ""
	}
	return "no segment " + u64(uint64(e.Segment)) + ": the region has " + u64(uint64(e.Count)) + " segment" + s
}

var errUnknown = errors.New("unknown region error")

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
