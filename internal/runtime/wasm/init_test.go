package wasm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// TestInitFailure checks that a guest whose init panics fails each cold
// start with ErrInit quoting the panic, with or without snapshots (capture
// fails, and the template falls back to initialising instances).
func TestInitFailure(t *testing.T) {
	code := guest(t, "testdata/badinit", false)
	for _, snapshots := range []bool{false, true} {
		r := newRuntime(t, wasm.Config{Snapshots: snapshots})
		tmpl := prepare(t, r, runtime.Spec{}, code)
		if _, ok := tmpl.Snapshot(); ok {
			t.Fatal("a snapshot was made of a guest whose init fails")
		}
		_, _, err := tmpl.Spawn(context.Background())
		if !errors.Is(err, runtime.ErrInit) || !errors.Is(err, runtime.ErrTrap) || !strings.Contains(err.Error(), "panic: bad init") {
			t.Fatalf("snapshots %v: Spawn error %v, want ErrInit wrapping a trap that quotes the panic", snapshots, err)
		}
	}
}
