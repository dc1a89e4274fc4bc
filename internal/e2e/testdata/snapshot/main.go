// Command snapshot is a test function for snapshot restores. Its init builds
// a table that a restored instance must find already built, and it keeps
// the body of the last request in a package-level variable so that a test
// can tell whether one request's data reaches the next.
//
// Bodies: "table" answers the table's checksum; "env" the GREETING
// variable; anything else is remembered, and the answer is what the
// instance remembered before ("" on a fresh instance).
package main

import (
	"os"
	"strconv"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

// squares is built by init: a restored instance has it without running init.
var squares = buildSquares(1 << 16)

// last is the body of the previous request this instance served.
var last string

func buildSquares(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i) * uint64(i)
	}
	return s
}

func init() {
	hearth.Handle(func(ctx hearth.Context, req hearth.Request) (hearth.Response, error) {
		switch body := string(req.Body); body {
		case "table":
			var sum uint64
			for _, v := range squares {
				sum += v
			}
			return hearth.Text(strconv.Itoa(len(squares)) + " " + strconv.FormatUint(sum, 10)), nil
		case "env":
			return hearth.Text(os.Getenv("GREETING")), nil
		default:
			prev := last
			last = body
			return hearth.Text("saw " + prev), nil
		}
	})
}

func main() {}
