package wasm_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
)

// Sections of hand-made modules.
var (
	typeVoid     = section(1, 1, 0x60, 0, 0)                                  // type 0: () -> ()
	funcVoid     = section(3, 1, 0)                                           // one function of type 0
	codeEmpty    = section(10, 1, 2, 0, 0x0b)                                 // its body: end
	memoryOne    = section(5, 1, 0, 1)                                        // one memory, min 1 page
	memoryBig    = section(5, 1, 0, 100)                                      // min 100 pages (6.25 MiB)
	exportMemory = section(7, cat([]byte{1}, str("memory"), []byte{2, 0})...) // memory 0 as "memory"
)

func exports(names ...string) []byte {
	body := []byte{byte(len(names))}
	for _, n := range names {
		kind := byte(0)
		if n == "memory" {
			kind = 2
		}
		body = append(body, cat(str(n), []byte{kind, 0})...)
	}
	return section(7, body...)
}

func TestPrepareRejects(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	tests := []struct {
		name string
		code []byte
		spec runtime.Spec
		want string
	}{
		{"empty", nil, runtime.Spec{}, "the artifact is empty"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), runtime.Spec{}, "not a WebAssembly module"},
		{"native executable", []byte("\x7fELF\x02\x01\x01"), runtime.Spec{}, "native ELF executable"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), runtime.Spec{}, "WebAssembly component"},
		{"truncated", []byte("\x00asm\x01\x00"), runtime.Spec{}, "truncated"},
		{"corrupt section", module([]byte{1, 9, 1, 0x60}), runtime.Spec{}, "does not compile"},
		{"no entry point", module(memoryOne, exportMemory), runtime.Spec{}, "exports neither hearth_handle"},
		{"reactor without handler", module(typeVoid, funcVoid, memoryOne, exports("memory", "_initialize"), codeEmpty), runtime.Spec{}, "import github.com/hearth-sh/hearth/sdk/go"},
		{"no exported memory", module(typeVoid, funcVoid, exports("_start"), codeEmpty), runtime.Spec{}, `does not export its memory as "memory"`},
		{"foreign import", module(typeVoid, section(2, cat([]byte{1}, str("env"), str("f"), []byte{0, 0})...), memoryOne, exportMemory), runtime.Spec{}, "imports env.f"},
		{"javascript glue", module(typeVoid, section(2, cat([]byte{1}, str("gojs"), str("syscall/js.valueGet"), []byte{0, 0})...), memoryOne, exportMemory), runtime.Spec{}, "GOOS=js"},
		{"unknown WASI function", module(typeVoid, section(2, cat([]byte{1}, str("wasi_snapshot_preview1"), str("nope"), []byte{0, 0})...), memoryOne, exportMemory), runtime.Spec{}, "does not provide"},
		{"WASI function with wrong signature", module(typeVoid, section(2, cat([]byte{1}, str("wasi_snapshot_preview1"), str("fd_write"), []byte{0, 0})...), memoryOne, exportMemory), runtime.Spec{}, "hearth provides it as (i32, i32, i32, i32) -> (i32)"},
		{"imported memory", module(section(2, cat([]byte{1}, str("env"), str("memory"), []byte{2, 0, 1})...)), runtime.Spec{}, "imports the memory env.memory"},
		{"memory over the limit", module(typeVoid, funcVoid, memoryBig, exports("memory", "_start"), codeEmpty), runtime.Spec{MemoryBytes: 1 << 20}, "raise --memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Prepare(context.Background(), tt.spec, runtime.Artifact{Bytes: tt.code})
			if !errors.Is(err, runtime.ErrInvalidArtifact) {
				t.Fatalf("Prepare error = %v, want ErrInvalidArtifact", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Prepare error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestPrepareShapes(t *testing.T) {
	r := newRuntime(t, wasm.Config{})
	tests := []struct {
		name string
		code func(testing.TB) []byte
		want wasm.Shape
	}{
		{"Go reactor", func(tb testing.TB) []byte { return guest(tb, "testdata/reactor", false) }, wasm.Reactor},
		{"Go command", func(tb testing.TB) []byte { return guest(tb, "testdata/command", true) }, wasm.Command},
		{"minimal command", func(testing.TB) []byte {
			return module(typeVoid, funcVoid, memoryOne, exports("memory", "_start"), codeEmpty)
		}, wasm.Command},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := prepare(t, r, runtime.Spec{}, tt.code(t))
			if got := tmpl.Shape(); got != tt.want {
				t.Fatalf("Shape() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCompilationCacheOnDisk checks that compiled code lands in CacheDir, so
// that the next runtime (a node restart) finds it.
func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	code := guest(t, "testdata/reactor", false)
	for round := 0; round < 2; round++ {
		r, err := wasm.New(context.Background(), wasm.Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := r.Prepare(context.Background(), runtime.Spec{Name: "fn"}, runtime.Artifact{Bytes: code})
		if err != nil {
			t.Fatal(err)
		}
		inst, _, err := tmpl.Spawn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_ = inst.Close(context.Background())
		_ = tmpl.Close(context.Background())
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var files int
	err := walk(dir, func() { files++ })
	if err != nil || files == 0 {
		t.Fatalf("compilation cache %s holds %d files (err %v), want the compiled module", dir, files, err)
	}
}

func walk(dir string, file func()) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := walk(dir+"/"+e.Name(), file); err != nil {
				return err
			}
			continue
		}
		file()
	}
	return nil
}
