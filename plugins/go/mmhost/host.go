// Package mmhost is the Go guest library for mmhost plugins: the region
// (the input files, concatenated) through the host's imports, with errors
// as error values, a chunk iterator, and the host's log, progress, output
// stream and job configuration.
//
// A plugin is a package main built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm
//
// whose init function hands its run function to Export; mmhost runs the
// core module directly (adapting WASI preview 1, which the Go runtime
// imports) or `mmhost wrap` makes it a component. fmt.Println and
// os.Stderr work: WASI stdout and stderr go to mmhost's stderr, prefixed
// with the plugin's name, never into the output stream (use Emit).
package mmhost

import (
	"io"
	"unsafe"
)

var eof = io.EOF

// Level is the severity of a log message.
type Level uint32

// The levels, as in the WIT's host.level; the user picks which are shown
// with -v and -q (by default Info and above).
const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
)

// Log writes msg to mmhost's stderr, prefixed with the plugin's name, if
// the user's verbosity lets level through.
func Log(level Level, msg string) {
	b := []byte(msg)
	hostLog(uint32(level), bytesPtr(b), uint32(len(b)))
}

// Emit appends data to the plugin's output stream (mmhost's stdout, or
// where the user sends it).
func Emit(data []byte) { outputEmit(bytesPtr(data), uint32(len(data))) }

// Config is the step's configuration from a job file as JSON text ("null"
// when it has none); parse it with encoding/json.
func Config() string {
	var ret [2]uint32
	hostAllocates(func() { configGet(unsafe.Pointer(&ret)) })
	return string(claim(ret[0], ret[1]))
}

// Progress reports progress to the host for a task of Total units,
// throttled to about 64 reports however often Set is called.
type Progress struct {
	total, step, next uint64
	last              uint64
	reported          bool
}

// NewProgress tracks a task of total units (usually bytes).
func NewProgress(total uint64) *Progress {
	return &Progress{total: total, step: max(total/64, 1)}
}

// Set records that done units are done.
func (p *Progress) Set(done uint64) {
	done = min(done, p.total)
	if p.total == 0 || (p.reported && p.last == done) {
		return
	}
	if done >= p.next || done == p.total {
		hostProgress(done, p.total)
		p.last, p.reported, p.next = done, true, done+p.step
	}
}

// Finish reports the task as complete.
func (p *Progress) Finish() { p.Set(p.total) }
