// count PATTERN: the number of non-overlapping occurrences of PATTERN (its
// UTF-8 bytes) in the region, as plugins/count and Python's bytes.count
// count them: leftmost first, an empty pattern counts size + 1, matches
// across file boundaries count. The host searches (mmhost.Find); nothing of
// the region is copied into the plugin. In a job file the pattern may be
// the step's config instead: {"pattern": "..."}.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"mmhost/mmhost"
)

func init() { mmhost.Export(run) }

func main() {}

var errUsage = errors.New("usage: count PATTERN")

// batch is how many matches one Find returns at most.
const batch = 1 << 16

func pattern(args []string) ([]byte, error) {
	switch len(args) {
	case 1:
		return []byte(args[0]), nil
	case 0:
		var config *struct {
			Pattern *string `json:"pattern"`
		}
		d := json.NewDecoder(bytes.NewReader([]byte(mmhost.Config())))
		d.DisallowUnknownFields()
		if err := d.Decode(&config); err != nil {
			return nil, fmt.Errorf(`count: %v (expected {"pattern": "..."})`, err)
		}
		if config == nil {
			return nil, errUsage
		}
		if config.Pattern == nil {
			return nil, errors.New(`count: missing field "pattern" (expected {"pattern": "..."})`)
		}
		return []byte(*config.Pattern), nil
	}
	return nil, errUsage
}

func run(args []string) (string, error) {
	pat, err := pattern(args)
	if err != nil {
		return "", err
	}
	size := mmhost.Size()
	if len(pat) == 0 {
		return strconv.FormatUint(size+1, 10), nil
	}
	progress := mmhost.NewProgress(size)
	var count uint64
	for pos := uint64(0); ; {
		hits, err := mmhost.Find(pat, pos, size, batch)
		if err != nil {
			return "", err
		}
		count += uint64(len(hits))
		if len(hits) < batch {
			break
		}
		pos = hits[len(hits)-1] + uint64(len(pat))
		progress.Set(pos)
	}
	progress.Finish()
	return strconv.FormatUint(count, 10), nil
}
