//go:build race

package abi

// raceEnabled: the race detector changes inlining and escape analysis, so
// allocation counts differ; tests that count allocations skip.
const raceEnabled = true
