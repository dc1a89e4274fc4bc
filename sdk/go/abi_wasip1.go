//go:build wasip1

package hearth

import (
	"fmt"
	"unsafe"
)

// hearthAlloc gives the host a buffer of n bytes for requests. The host
// keeps using it, one request per hearth_handle call, until it needs a
// bigger one.
//
//go:wasmexport hearth_alloc
func hearthAlloc(n uint32) uint32 {
	guest.inbox = make([]byte, n)
	if n == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(guest.inbox))))
}

// hearthHandle serves the request the host wrote into the last buffer from
// hearth_alloc and returns the response's address and length packed as
// address<<32 | length.
//
//go:wasmexport hearth_handle
func hearthHandle(ptr, n uint32) uint64 {
	if n > uint32(len(guest.inbox)) || (n > 0 && ptr != uint32(uintptr(unsafe.Pointer(unsafe.SliceData(guest.inbox))))) {
		panic("hearth: hearth_handle called with a buffer hearth_alloc did not return")
	}
	out := serve(guest.inbox[:n])
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(out))))<<32 | uint64(len(out))
}

// hearthAfterRestore runs the OnRestore functions in an instance restored
// from a snapshot.
//
//go:wasmexport hearth_after_restore
func hearthAfterRestore() { afterRestore() }

// The host reads and writes these pointers only during the call, so they do
// not escape: without go:noescape, hostCall's outLen would be a heap
// allocation on every call.

//go:wasmimport hearth log
//go:noescape
func wasmLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport hearth call
//go:noescape
func wasmCall(op unsafe.Pointer, opLen uint32, in unsafe.Pointer, inLen uint32, outLen unsafe.Pointer) uint32

//go:wasmimport hearth call_result
//go:noescape
func wasmCallResult(dst unsafe.Pointer, dstLen uint32) uint32

func hostLog(level Level, msg string) {
	wasmLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

func hostCall(op string, input []byte) ([]byte, error) {
	var outLen uint32
	errno := wasmCall(unsafe.Pointer(unsafe.StringData(op)), uint32(len(op)),
		unsafe.Pointer(unsafe.SliceData(input)), uint32(len(input)), unsafe.Pointer(&outLen))
	out := make([]byte, outLen)
	if outLen > 0 {
		wasmCallResult(unsafe.Pointer(unsafe.SliceData(out)), outLen)
	}
	if errno != 0 {
		return nil, fmt.Errorf("%s: %s: %w", op, out, ErrHostCall)
	}
	return out, nil
}
