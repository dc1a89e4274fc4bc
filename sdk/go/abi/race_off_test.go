//go:build !race

package abi

// raceEnabled: see race_on_test.go.
const raceEnabled = false
