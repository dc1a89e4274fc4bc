// Command coldstartguest is the function of `hearth bench coldstart`: a Go
// reactor whose init builds STATE_MB MiB of initialised state (0: a small
// init with only the Go runtime and the SDK), the kind of work a snapshot
// saves every cold start: loading a model, building caches.
//
// GET / reads one byte of every 64 KiB of the state and answers their sum,
// so the first request after a cold start touches the state the way a real
// handler would. /write also writes one byte into each of 64 pages of a
// scratch buffer made at init (no new memory, so the instance stays
// resettable), which a recycle-mode reset must undo.
package main

import (
	"os"
	"strconv"

	hearth "github.com/hearth-sh/hearth/sdk/go"
)

var (
	// state is what init built; index maps a key to a slab, so the state
	// holds pointers the garbage collector must trace, not only bytes.
	state   [][]byte
	index   = map[int]int{}
	scratch = make([]byte, 256<<10)
	writes  int
)

func init() {
	mb, _ := strconv.Atoi(os.Getenv("STATE_MB"))
	// A 64 KiB random pattern (xorshift), copied into every slab with the
	// slab's number mixed in: no page of the state is zero or equal to
	// another, and init costs what copying the state costs.
	pattern := make([]byte, 64<<10)
	x := uint64(0x9e3779b97f4a7c15)
	for j := range pattern {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		pattern[j] = byte(x)
	}
	for i := range mb {
		slab := make([]byte, 1<<20)
		for off := 0; off < len(slab); off += len(pattern) {
			copy(slab[off:], pattern)
			slab[off] = byte(i)
			slab[off+1] = byte(off >> 16)
		}
		state = append(state, slab)
		index[i] = i
	}
	hearth.Handle(handle)
}

func handle(_ hearth.Context, req hearth.Request) (hearth.Response, error) {
	sum := 0
	for _, i := range index {
		for j := 0; j < len(state[i]); j += 64 << 10 {
			sum += int(state[i][j])
		}
	}
	if req.Path == "/write" {
		// A recycled instance always sees writes == 0 here.
		writes++
		for j := 0; j < len(scratch); j += 4096 {
			scratch[j] = byte(writes)
		}
		sum += int(scratch[0])
	}
	return hearth.Text(strconv.Itoa(sum)), nil
}

func main() {}
