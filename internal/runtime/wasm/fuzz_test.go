package wasm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// FuzzPrepare feeds arbitrary uploads to Prepare: each must be accepted or
// refused with ErrInvalidArtifact, never crash the node.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(module(typeVoid, funcVoid, memoryOne, exports("memory", "_start"), codeEmpty))
	f.Add(module(typeVoid, section(2, cat([]byte{1}, str("env"), str("f"), []byte{0, 0})...), memoryOne, exportMemory))
	r := newRuntime(f, wasm.Config{})
	f.Fuzz(func(t *testing.T, code []byte) {
		tmpl, err := r.Prepare(context.Background(), runtime.Spec{Name: "fuzz"}, runtime.Artifact{Bytes: code})
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalidArtifact) {
				t.Fatalf("Prepare error %v does not wrap ErrInvalidArtifact", err)
			}
			return
		}
		_ = tmpl.Close(context.Background())
	})
}
