package wasm

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/hearth-sh/hearth/internal/runtime"
)

// Shape is how a module talks to hearth.
type Shape string

// The guest shapes.
const (
	// Reactor modules export hearth_alloc and hearth_handle; an instance
	// serves many invocations.
	Reactor Shape = "reactor"
	// Command modules are plain WASI programs (_start); every invocation
	// runs a fresh instance, body on stdin, response on stdout.
	Command Shape = "command"
)

// Names in the binary interface (docs/abi.md).
const (
	exportAlloc      = "hearth_alloc"
	exportHandle     = "hearth_handle"
	exportInitialize = "_initialize"
	exportRestore    = "hearth_after_restore"
	exportStart      = "_start"
	exportMemory     = "memory"
	wasiModule       = "wasi_snapshot_preview1"
	hostModule       = "hearth"
	pageSize         = 65536
	maxPages         = 65536 // 4 GiB, the wasm32 ceiling
)

// moduleInfo is what validation learnt about a module.
type moduleInfo struct {
	shape       Shape
	hasInit     bool   // exports _initialize
	minMemBytes uint64 // the memory the module needs before it runs
}

var (
	wasmMagic     = []byte("\x00asm")
	coreVersion   = []byte{1, 0, 0, 0}
	deployHint    = "build Go functions with `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` (hearth deploy NAME ./dir does it), or deploy any WASI preview 1 module"
	importedKinds = [...]string{"function", "table", "memory", "global", "tag"}
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", runtime.ErrInvalidArtifact, fmt.Sprintf(format, args...))
}

// inspect checks what wazero's decoder would report only vaguely: that the
// bytes are a core WebAssembly module and that it imports nothing but
// functions.
func inspect(code []byte) (moduleInfo, error) {
	switch {
	case len(code) == 0:
		return moduleInfo{}, invalid("the artifact is empty: %s", deployHint)
	case bytes.HasPrefix(code, []byte("\x7fELF")):
		return moduleInfo{}, invalid("the artifact is a native ELF executable, not WebAssembly: deploy it with --runtime process, or %s", deployHint)
	case !bytes.HasPrefix(code, wasmMagic):
		return moduleInfo{}, invalid("the artifact is not a WebAssembly module (it does not start with \\0asm): %s", deployHint)
	case len(code) < 8:
		return moduleInfo{}, invalid("the module is truncated after its magic number")
	case !bytes.Equal(code[4:8], coreVersion):
		if code[6] == 1 && code[7] == 0 {
			return moduleInfo{}, invalid("the artifact is a WebAssembly component (WASI preview 2); hearth runs core modules targeting WASI preview 1 (wasip1)")
		}
		return moduleInfo{}, invalid("unsupported WebAssembly version % x: hearth runs version 1 core modules", code[4:8])
	}
	if err := checkImportKinds(code[8:]); err != nil {
		return moduleInfo{}, err
	}
	return moduleInfo{}, nil
}

// checkImportKinds walks the import section and refuses anything but
// function imports: hearth provides no memories, tables or globals.
func checkImportKinds(b []byte) error {
	for len(b) > 0 {
		id := b[0]
		size, n := uleb(b[1:])
		if n == 0 || uint64(len(b)-1-n) < size {
			return nil // let the compiler report the malformed section precisely
		}
		body := b[1+n : 1+n+int(size)]
		b = b[1+n+int(size):]
		if id != 2 {
			continue
		}
		count, n := uleb(body)
		body = body[n:]
		for i := uint64(0); i < count; i++ {
			mod, rest, ok := name(body)
			if !ok {
				return nil
			}
			field, rest, ok := name(rest)
			if !ok || len(rest) == 0 {
				return nil
			}
			kind := rest[0]
			if kind != 0 {
				k := "unknown"
				if int(kind) < len(importedKinds) {
					k = importedKinds[kind]
				}
				return invalid("the module imports the %s %s.%s; hearth provides only functions of %s and %s (was it linked with --import-memory or for another host?)",
					k, mod, field, wasiModule, hostModule)
			}
			_, n := uleb(rest[1:])
			if n == 0 {
				return nil
			}
			body = rest[1+n:]
		}
		return nil
	}
	return nil
}

func name(b []byte) (string, []byte, bool) {
	l, n := uleb(b)
	if n == 0 || uint64(len(b)-n) < l {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}

// uleb decodes an unsigned LEB128 number of at most 32 bits; n is 0 when b
// holds none.
func uleb(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 5; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// checkModule checks a compiled module's imports and exports against the
// binary interface and fills in its shape.
func (r *Runtime) checkModule(c wazero.CompiledModule, info *moduleInfo) error {
	for _, imp := range c.ImportedFunctions() {
		mod, fn, _ := imp.Import()
		want, ok := r.hostFn[mod+"."+fn]
		switch {
		case !ok && mod != wasiModule && mod != hostModule:
			return invalid("the module imports %s.%s; hearth provides only %s and its own %q module (no other host, no JavaScript glue: was it built for GOOS=js or another runtime?)",
				mod, fn, wasiModule, hostModule)
		case !ok:
			return invalid("the module imports %s.%s, which %s does not provide (see docs/abi.md for the host functions)", mod, fn, mod)
		case !sameSignature(imp, want):
			return invalid("the module imports %s.%s as %s, but hearth provides it as %s", mod, fn, signature(imp), signature(want))
		}
	}
	exports := c.ExportedFunctions()
	mems := c.ExportedMemories()
	mem, ok := mems[exportMemory]
	if !ok {
		return invalid("the module does not export its memory as %q, which WASI and hearth need to exchange data", exportMemory)
	}
	info.minMemBytes = uint64(mem.Min()) * pageSize
	_, info.hasInit = exports[exportInitialize]
	alloc, hasAlloc := exports[exportAlloc]
	handle, hasHandle := exports[exportHandle]
	_, hasStart := exports[exportStart]
	switch {
	case hasHandle && !hasAlloc:
		return invalid("the module exports %s but not %s, which hearth needs to pass it the request", exportHandle, exportAlloc)
	case hasHandle:
		if !hasTypes(alloc, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}) {
			return invalid("%s must have the signature (i32) -> i32, not %s", exportAlloc, signature(alloc))
		}
		if !hasTypes(handle, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}) {
			return invalid("%s must have the signature (i32, i32) -> i64, not %s", exportHandle, signature(handle))
		}
		info.shape = Reactor
	case hasStart:
		info.shape = Command
	case info.hasInit:
		return invalid("the module is a reactor (it exports _initialize) but has no %s export: import github.com/hearth-sh/hearth/sdk/go and call hearth.Handle from an init function", exportHandle)
	default:
		return invalid("the module exports neither %s (a reactor, as sdk/go builds) nor _start (a WASI command): %s", exportHandle, deployHint)
	}
	return nil
}

// checkSpec checks the module against the function's limits.
func (t *Template) checkSpec() error {
	if limit := t.memoryLimit(); t.mod.info.minMemBytes > limit {
		return invalid("the module needs %d MiB of memory to start but the function's limit is %d MiB: raise --memory",
			t.mod.info.minMemBytes>>20, limit>>20)
	}
	return nil
}

func hasTypes(d api.FunctionDefinition, params, results []api.ValueType) bool {
	return bytes.Equal(d.ParamTypes(), params) && bytes.Equal(d.ResultTypes(), results)
}

func sameSignature(a, b api.FunctionDefinition) bool {
	return hasTypes(a, b.ParamTypes(), b.ResultTypes())
}

func signature(d api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(d.ParamTypes()) + " -> " + names(d.ResultTypes())
}
