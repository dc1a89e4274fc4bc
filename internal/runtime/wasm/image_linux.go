//go:build linux

package wasm

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// memoryImage is a snapshot's memory image in an anonymous in-memory file
// (memfd). A restore maps it copy-on-write over the start of a fresh
// reservation of the function's memory limit: it costs the same whatever
// the image's size, and a restored instance only owns the pages it writes;
// the rest are shared by every instance restored from the image.
type memoryImage struct {
	file *os.File
	size int
}

func newMemoryImage(image []byte) (*memoryImage, error) {
	fd, err := unix.MemfdCreate("hearth-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hearth-snapshot")
	if _, err := f.Write(image); err != nil {
		f.Close()
		return nil, fmt.Errorf("write snapshot image: %w", err)
	}
	return &memoryImage{file: f, size: len(image)}, nil
}

// restore maps the image into a new linear memory of at most limit bytes.
func (m *memoryImage) restore(limit uint64) (*limitedMemory, error) {
	if uint64(m.size) > limit {
		return nil, fmt.Errorf("snapshot of %d bytes is over the memory limit of %d", m.size, limit)
	}
	base, err := unix.MmapPtr(-1, 0, nil, uintptr(limit), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes of memory: %w", limit, err)
	}
	if m.size > 0 {
		if _, err := unix.MmapPtr(int(m.file.Fd()), 0, base, uintptr(m.size), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			_ = unix.MunmapPtr(base, uintptr(limit))
			return nil, fmt.Errorf("map snapshot image: %w", err)
		}
	}
	buf := unsafe.Slice((*byte)(base), limit)[:m.size]
	return &limitedMemory{limit: limit, buf: buf, free: func() { _ = unix.MunmapPtr(base, uintptr(limit)) }}, nil
}

// close drops the file; mappings made from it stay valid.
func (m *memoryImage) close() error { return m.file.Close() }

// reset maps the image again over mem's first pages, dropping the private
// copies of every page written since: the kernel does the work in one call.
func (m *memoryImage) reset(mem *limitedMemory) error {
	if m.size == 0 {
		return nil
	}
	if _, err := unix.MmapPtr(int(m.file.Fd()), 0, unsafe.Pointer(unsafe.SliceData(mem.buf)), uintptr(m.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		return fmt.Errorf("map snapshot image again: %w", err)
	}
	return nil
}
