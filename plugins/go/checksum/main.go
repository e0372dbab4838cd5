// checksum: prints "<sha256 hex> <size>" of the whole region, as
// plugins/checksum does, hashing it with crypto/sha256 a chunk at a time.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"mmhost/mmhost"
)

func init() { mmhost.Export(run) }

func main() {}

func run(args []string) (string, error) {
	size := mmhost.Size()
	h := sha256.New()
	c := mmhost.NewChunks(0, size)
	for _, b := range c.All() {
		h.Write(b)
	}
	if err := c.Err(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)) + " " + strconv.FormatUint(size, 10), nil
}
