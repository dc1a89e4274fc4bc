package wasm

import "github.com/tetratelabs/wazero/experimental"

// limitedMemory backs one instance's linear memory and enforces the
// function's memory limit. wazero asks it to grow on memory.grow; refusing
// makes memory.grow return -1 to the guest, and exceeded records that the
// guest hit the limit so that the failure is reported as such (a Go guest
// turns the refusal into "out of memory" and exits, a C guest may carry
// on; either way the instance is finished).
type limitedMemory struct {
	limit    uint64
	buf      []byte
	exceeded bool
	// free releases buf when it is not Go memory (a mapped snapshot).
	free func()
	// scratch is reused by snapshot resets (recycle mode).
	scratch []byte
	// tracked: the kernel records writes to the image's range of buf
	// (track_linux.go), so that resets scan only for written pages.
	tracked bool
}

// Allocate implements experimental.MemoryAllocator; each instance has its
// own. A memory restored from a snapshot arrives with buf already filled.
func (m *limitedMemory) Allocate(capacity, max uint64) experimental.LinearMemory {
	if max < m.limit {
		m.limit = max
	}
	if m.buf == nil {
		m.buf = make([]byte, 0, min(capacity, m.limit))
	}
	return m
}

// Reallocate implements experimental.LinearMemory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.exceeded = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		// Growing within capacity exposes bytes that are still zero: the
		// memory never shrinks, so nothing was written past len before.
		m.buf = m.buf[:size]
		return m.buf
	}
	// Double to keep growth amortised, but never reserve past the limit.
	c := min(max(size, 2*uint64(cap(m.buf))), m.limit)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() {
	m.buf = nil
	if m.free != nil {
		m.free()
		m.free = nil
	}
}
