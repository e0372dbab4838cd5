// {{name}}: an mmhost plugin in Go. Prints the number of lines ('\n'
// bytes) in the region; change run to do what you need.
package main

import (
	"bytes"
	"errors"
	"strconv"

	"{{name}}/mmhost"
)

func init() { mmhost.Export(run) }

// main is not called: the plugin is a library (-buildmode=c-shared).
func main() {}

func run(args []string) (string, error) {
	if len(args) != 0 {
		return "", errors.New("usage: {{name}}") // err: stderr, exit code 1
	}
	lines := 0
	c := mmhost.NewChunks(0, mmhost.Size()) // 1 MiB at a time
	for _, b := range c.All() {
		lines += bytes.Count(b, []byte{'\n'})
	}
	if err := c.Err(); err != nil {
		return "", err
	}
	return strconv.Itoa(lines), nil // ok: printed on stdout
}
